# SIPE on COCO 2014 train (train_resnet50_SIPE.py --dataset coco): the VOC recipe with 80 fg
# classes (num_cls 81): batch 16, 5 epochs, crop 512, resize_long (320, 640), lr 0.1 (x10),
# wd 1e-4, poly 0.9, grad clip 1. Official refinement on COCO is a dense CRF instead of IRN
# (run_coco.sh): sipe-irlabels on this config gives the CRF'd IR labels.
_base_ = [
    '../_base_/models/sipe_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(sipe=dict(num_classes=num_fg_classes)))
max_epochs = 5
train_dataloader = dict(batch_size=16, drop_last=True)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
randomness = dict(seed=15)
