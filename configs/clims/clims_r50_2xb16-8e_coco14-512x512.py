# CLIMS (root version) on MS-COCO 2014 train (80 classes), the README command of
# CVI-SZU/CLIMS (run_sample_coco.py): 2 GPUs x batch 16 (DistributedSampler, SyncBN),
# 8 epochs, lr 5e-4 (classifier x10), --hyper 2,14,1.25,0.2, --cbs_loss_thresh 0.285,
# the COCO prompts ('player' for person, 88 co-occurring background prompts), eval bg 0.15.
# Starts from a COCO baseline CAM (res50_cam.pth of cam-baseline-coco/): a user file here.
_base_ = [
    '../_base_/models/clims_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
cam_checkpoint = 'work_dirs/cam_r50_coco14/epoch_5.pth'
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True), init_cfg=dict(checkpoint=cam_checkpoint)),
    cam_heads=dict(
        clims=dict(num_classes=num_fg_classes, init_cfg=dict(checkpoint=cam_checkpoint))),
    loss_terms=[
        dict(
            type='CLIMSTerm',
            name='clims',
            cam='clims',
            clip=dict(
                type='OpenCLIP',
                arch='ViT-B-32',
                quick_gelu=True,
                checkpoint={{_base_.clip_checkpoint}}),
            dataset='coco',
            version='root',
            loss_weights=(2.0, 14.0, 1.25, 0.2),
            cbs_thr=0.285,
            clip_size=224,
            clip_input='inputs'),
    ])
optim_wrapper = dict(optimizer=dict(lr=5e-4))
max_epochs = 8
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
randomness = dict(seed=0)
