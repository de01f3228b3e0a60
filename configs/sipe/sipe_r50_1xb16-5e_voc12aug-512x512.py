# SIPE on VOC12 train_aug (train_resnet50_SIPE.py): batch 16, 5 epochs (3,305 steps), crop 512,
# resize_long (320, 640), h-flip, lr 0.1 (new layers x10), wd 1e-4, poly 0.9, grad clip 1,
# seed 15. IS-CAM seeds are scored on VOC train (1,464 images): sipe-seeds_r50_...py.
# The official code validates every 500 steps to keep best.pth but make_cam.py loads
# final.pth: no validation here, the last checkpoint is the one used.
_base_ = [
    '../_base_/models/sipe_r50.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
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
