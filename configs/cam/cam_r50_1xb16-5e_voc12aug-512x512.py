# The IRN recipe for the classic CAM baseline on VOC12 train_aug:
# 5 epochs, batch 16, crop 512, resize_long (320, 640), h-flip, lr 0.1 (head x10),
# wd 1e-4, poly 0.9. Seeds are evaluated on VOC train (1,464 images) with a
# background-threshold sweep (the WSSS protocol).
_base_ = [
    '../_base_/models/cam_r50.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_irn_cam.py',
]
train_dataloader = dict(batch_size=16)
max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
