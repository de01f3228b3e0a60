# USAGE, Transformer variant, on VOC 2012 train_aug with DeiT-S/16 (IN-1k, timm
# `deit_small_patch16_224`). NOT FROM RELEASED CODE: no code was released; the losses,
# temperatures and weights are unverified (reference §9). The README says the code builds on
# MCTformer, so this is MCTformer's DeiT-S classification recipe (xulianuwa/MCTformer main.py /
# run.sh, read there): batch 64, 60 epochs (10,582 // 64 = 165 iterations each -> 9,900), input
# 224, AdamW lr 5e-4 x 64 / 512 = 6.25e-5, wd 0.05, 5 warm-up epochs from 1e-6, cosine to 1e-5,
# drop-path 0.1. MCTformer's class-token attention maps are NOT used: the CAM is a CAMHead on the
# final patch tokens, trained by the generation loss at the Transformer temperature (0.5); the
# second view is the crop x0.5 (112 = 7 whole patches; SEAM's x0.3 would cut patches).
# Weights: python tools/model_converters/vit_timm.py deit_small_patch16_224-cd65a155.pth \
#              checkpoints/deit-s16_in1k_mmwsss.pth
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/usage_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
pretrained = 'checkpoints/deit-s16_in1k_mmwsss.pth'
crop_size = (224, 224)
iters_per_epoch = 165  # 10,582 // 64 (drop_last)
max_iters = 60 * iters_per_epoch
warmup_iters = 5 * iters_per_epoch
batch_size = 64
embed_dim = 384
# -----------------------------
model = dict(
    data_preprocessor=dict(
        size=crop_size, views=dict(view=dict(aug=dict(scale_factor=0.5, align_corners=False)))),
    backbone=dict(
        _delete_=True,
        type='TokenViT',
        vit=dict(type='timm', model_name='deit_small_patch16_224', drop_path_rate=0.1),
        out_blocks=(-1, ),
        out_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(main=dict(in_channels=embed_dim, in_index=0, dropout_ratio=0.0)),
    loss_terms=[
        dict(type='USAGEGenerationTerm', name='gen', cam='main', network='transformer', weight=1.0),
        dict(
            type='USAGEConsistencyTerm',
            name='reg',
            cam='main',
            view_pass='view',
            view='view',
            weight=1.0),
    ],
    test_cfg=dict(cam=dict(_delete_=True, preset='toco', bg_thr=0.2)))

# MCTformer's training transform is timm's ImageNet one; approximated here by a random resize,
# flip, photometric jitter and a 224 crop (not the same augmentation)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=224, max_long=448),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# a ViT needs whole patches: test images resized to 224 x 224 (predictions go back to ori_shape)
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=8, dataset=dict(pipeline=train_pipeline, **_data))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
val_dataloader = None
val_evaluator = None
val_cfg = None

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6.25e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6.25e-5, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch * 10, max_keep_ckpts=2))
randomness = dict(seed=0)
