# CPAL on VOC12 train_aug in the SIPE recipe (the official repo has no code; SIPE is a named
# base): batch 16, 5 epochs (3,305 steps), crop 512, resize_long (320, 640), h-flip, lr 0.1
# (new layers x10), wd 1e-4, poly 0.9 (PolySGD; `optim_wrapper.optimizer.momentum_quirk=True`
# reproduces the IRN-family quirk), grad clip 1, seed 15. PA-CAM seeds are scored on VOC train
# (1,464 images): cpal-seeds_r50_1xb16-5e_voc12aug-512x512.py. Without external CAMs (the
# image-label-only variant); the published 74.5 VOC val is the CLIP-ES-based pipeline:
# cpal-clipes_r50_1xb16-5e_voc12aug-512x512.py.
_base_ = [
    '../_base_/models/cpal_r50.py',
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
