# Cross-architecture co-training (mmwsss's own) at ToCo's / DuPL's full VOC recipe: VOC 2012
# train_aug, 2 GPUs x 2 images, 20k iterations, crop 448 (32x32 ViT-S/14 tokens, 28x28 CNN
# cells), warm-up 1500, cross terms after 2000. The two networks are the real pretrained
# weights this project ships through tools/install.sh (EfficientNet-Lite0, DINOv2 ViT-S/14);
# any other pair is a change of the two branch configs. Not run here (no GPU, no VOC copy).
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/xarch_effnet-lite0_vits14-dinov2.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
max_iters = 20000
batch_size = 2  # per GPU
# -----------------------------
model = dict(data_preprocessor=dict(size=crop_size))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
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
