# CPAL on COCO 2014 train in the SIPE recipe (no official CPAL code; SIPE's COCO settings):
# 80 fg classes, batch 16, 5 epochs, crop 512, resize_long (320, 640), lr 0.1 (x10), wd 1e-4,
# poly 0.9 (PolySGD; momentum_quirk=True for the IRN-family quirk), grad clip 1, seed 15.
# Published (paper, ResNet-101 DeepLab, CLIP-ES-based, [secondary]): COCO val 46.8 -- that
# pipeline uses CLIP-ES seeds: model.cam_heads.cpal.ext_cam_dir=DIR and a whole-image resize
# (see cpal-clipes_r50_1xb16-5e_voc12aug-512x512.py).
_base_ = [
    '../_base_/models/cpal_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(cpal=dict(num_classes=num_fg_classes)))
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
