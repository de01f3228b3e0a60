# MMCST with DeiT-S/16 (IN-1k, timm `deit_small_patch16_224`, MCTformer's backbone) on VOC 2012
# train_aug. NOT FROM RELEASED CODE (reference §8): MCTformer's schedule (xulianuwa/MCTformer
# main.py / run.sh, read there): 1 GPU x 64 images, 60 epochs (10,582 // 64 = 165 iterations
# each -> 9,900), input 224, AdamW lr 5e-4 x 64 / 512 = 6.25e-5, wd 0.05, 5 warm-up epochs from
# 1e-6, cosine to 1e-5, drop-path 0.1; timm's ImageNet training transform. MCTformer trains
# with AMP (`--amp` of tools/train.py); numbers of the paper: configs/mmcst/README.md.
# Weights (both must exist; a missing file fails naming it):
#   python tools/model_converters/vit_timm.py deit_small_patch16_224-cd65a155.pth \
#       checkpoints/deit-s16_in1k_mmwsss.pth
#   checkpoints/clip/ViT-B-16.pt: OpenAI CLIP ViT-B/16 (TorchScript .pt or a state dict)
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/mmcst_deit-s16.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (224, 224)
iters_per_epoch = 165  # 10,582 // 64 (drop_last)
max_iters = 60 * iters_per_epoch
warmup_iters = 5 * iters_per_epoch
batch_size = 64
# -----------------------------

# timm create_transform(224, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
# interpolation='bicubic', re_prob=0.25, re_mode='pixel'): RandomResizedCrop(0.08-1, 3/4-4/3,
# bicubic), h-flip, RandAugment (2 ops, magnitude 9, std 0.5, increasing), random erasing
# (per-pixel normal noise); colour jitter is off when an auto-augment policy is given. The
# mmpretrain transforms are those of its DeiT recipe.
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        # built in mmpretrain's scope: its sub-policies live in mmpretrain's registry
        type='RandAugment',
        _scope_='mmpretrain',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(
        type='mmpretrain.RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[103.53, 116.28, 123.675],
        fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackWSSSInputs'),
]
# MCTformer generates the maps at the original image size (its strided patch embedding drops
# the last H % 16 rows / W % 16 columns; MMCSTViT(crop_to_patch=True) does the same)
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=10, dataset=dict(pipeline=train_pipeline, **_data))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
# MCTformer validates the classifier's mAP only; the seeds are scored by the -seeds config
val_dataloader = None
val_evaluator = None
val_cfg = None

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
# timm CosineLRScheduler (epoch steps, warm-up 5 epochs from 1e-6, min 1e-5) as per-iteration
# LinearLR + CosineAnnealingLR (timm's cosine also counts the warm-up epochs; see README)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6.25e-5, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch * 10, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)
