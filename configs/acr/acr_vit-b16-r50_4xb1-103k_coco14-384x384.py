# ACR with the ViT-Hybrid on COCO 2014 (80 classes): 4 GPUs x 1, 5 epochs of the 82,081
# labelled train2014 images = (82,081 // 4) * 5 = 102,600 iterations, crop 384, lr 0.05,
# alpha 125 (the VOC recipe; README: COCO 5 epochs). Segmentation with DeepLabV2-R101 on the
# refined masks: COCO val 45.0 (PapersWithCode; the refinement is not in the official repo).
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/acr_vit-b16-r50.py',
]
data_root = 'data/coco14'
pretrained = 'checkpoints/vit-b16-r50_384_mmwsss.pth'
crop_size = (384, 384)
max_iters = 102600
num_fg_classes = 80

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(cls=dict(num_classes=num_fg_classes)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomResizeLong',
        min_long=int(crop_size[0] * 0.9),
        max_long=int(crop_size[0] / 0.875),
        backend='cv2',
        interpolation='bilinear'),
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
train_dataloader = dict(batch_size=1, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2))
randomness = dict(seed=0)
