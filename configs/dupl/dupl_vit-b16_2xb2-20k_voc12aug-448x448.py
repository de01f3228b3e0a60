# DuPL with ViT-B/16 (IN-21k, timm `vit_base_patch16_224` = jx_vit_base_p16_224) on VOC 2012
# train_aug: 2 GPUs x 2 images, 20k iterations, crop 448 (README: val 73.3 MS+CRF, test 72.8).
# Weights: convert the timm checkpoint with
#   python tools/model_converters/vit_timm.py jx_vit_base_p16_224.pth \
#       checkpoints/vit-b16_in21k_mmwsss.pth
# Evaluate both students and report the better one (the paper's rule):
#   --cfg-options model.test_cfg.predict_branch=b2 model.test_cfg.cam_head=cam2
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/dupl_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'
crop_size = (448, 448)
max_iters = 20000
batch_size = 2  # per GPU (DuPL: 2 GPUs x 2)
# -----------------------------
_init = dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model = dict(branches=dict(b1=dict(backbone=_init), b2=dict(backbone=_init)))

# DuPL's VOC12ClsDataset(aug=True): rescale 0.5-2, flip, crop 448 (padded by the preprocessor
# with black, img_box = the valid mask); the photometric main view and the strong view run on
# the device (data_preprocessor). DuPL builds ToCo's global_view2 / local_view but never uses
# them, so there is no extra pipeline view.
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# validate_siamase() resizes every image to 448x448; predictions go back to the original size
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
