# RCA stage 1 on COCO 2014 (train 82,081 images, 80 classes). The official code is VOC-only
# (20 classes hard-coded, no COCO script); this config keeps every VOC setting and changes
# only what the class count forces: 80 per-class heads, 80 x 500 memory slots, 800 cluster
# centres. Open choices (README): the epoch count (30, as VOC), the aggregation factor (the
# code's constant 20 / 10 = 2 kept) and the per-class head width (512).
#   python3 tools/train.py configs/rca/rca_vgg16-d1_1xb8-30e_coco14-368x368.py
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rca_vgg16-d1.py',
]
# ---- frequently modified ----
data_root = 'data/coco14'
num_fg_classes = 80
iters_per_epoch = 10261  # ceil(82,081 / 8)
num_epochs = 30
max_iters = iters_per_epoch * num_epochs
att_dir = 'work_dirs/rca_coco14/att'
# -----------------------------
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(
        main=dict(num_classes=num_fg_classes, iters_per_epoch=iters_per_epoch),
        coarse=dict(num_classes=num_fg_classes)),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main', weight=1.0),
        dict(type='ClsTerm', name='cls_coarse', cam='coarse', weight=0.4),
        dict(
            type='RCAContrastTerm',
            name='contrast',
            weight=0.01,
            schedule=dict(type='StepOn', start=2 * iters_per_epoch, strict=False)),
        dict(
            type='RCAAttentionTerm',
            name='oaa',
            att_dir=att_dir,
            iters_per_epoch=iters_per_epoch,
            num_epochs=num_epochs),
    ])

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(368, 368), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
# seeds and accumulated maps are both on the network's 368 x 368 input, resized back
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(368, 368), keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),  # the official loader's order
    dataset=dict(pipeline=train_pipeline, **_data))
# seeds are scored on the training images with masks
test_dataloader = dict(
    batch_size=1,
    dataset=dict(ann_file='ImageSets/Segmentation/train.txt', pipeline=test_pipeline, **_data))
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='MultiStepLR',
        milestones=[5 * iters_per_epoch, 10 * iters_per_epoch],
        gamma=0.1,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)
