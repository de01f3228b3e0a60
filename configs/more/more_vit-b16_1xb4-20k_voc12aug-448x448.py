# MoRe with ViT-B/16 (IN-21k, timm `vit_base_patch16_224` = MoRe's jx_vit_base_p16_224) on VOC
# 2012 train_aug: 1 GPU x 4 images (the bundled VOC log), 20k iterations, crop 448 (README: val
# 76.4 with cam2seg, test 75.0; the seg head alone ~74.6, issue #3). Weights: convert the timm
# checkpoint with
#   python tools/model_converters/vit_timm.py jx_vit_base_p16_224.pth \
#       checkpoints/vit-b16_in21k_mmwsss.pth
# TokenViT expands its one class token to the 24 class tokens on loading.
# Evaluate cam2seg (default test_cfg) or the seg head (MS + flip, no CRF) with
#   --cfg-options model.test_cfg.predict_source=seg
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/more_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'
crop_size = (448, 448)
max_iters = 20000
batch_size = 4  # per GPU (MoRe: 1 GPU x 4)
# -----------------------------
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# MoRe's MultiviewTransform global view: RandomResizedCrop(448, scale 0.32-1, bicubic) of the
# original image (no img_box); flip and ColorJitter p 0.5 run on the device (data_preprocessor).
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.32, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='PackWSSSInputs'),
]
# MoRe's infer_cam.py / infer_seg_voc.py resize every image to 448x448; predictions go back to
# the original size for scoring
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=1500,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=0.9,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=200, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2))
randomness = dict(seed=0)
