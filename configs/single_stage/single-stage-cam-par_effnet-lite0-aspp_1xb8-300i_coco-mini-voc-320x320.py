# The single-stage chassis on coco-mini: one backbone, a CAM classification branch and an
# unchanged mmseg decode head (ASPPHead here; any mmseg head works) trained on online pseudo
# labels = the CAM branch's CAMs refined by PAR with ToCo's double background threshold
# (fg > 0.7, ignore in (0.25, 0.7], bg <= 0.25). As in ToCo, the segmentation loss is off
# for the first iterations while the classifier warms up (ToCo: 2000 of 20k; scaled here).
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_irn_cam.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (320, 320)
max_iters = 300
num_fg_classes = 20
seg_loss_start = 30
# -----------------------------
model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[127.0, 127.0, 127.0],
        std=[128.0, 128.0, 128.0],
        bgr_to_rgb=True,
        size=crop_size,
        pad_val=0,
        seg_pad_val=255,
        num_classes=num_fg_classes),
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(8, ),
        strides=(1, 2, 2, 2, 1, 1, 1),
        frozen_stages=3,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        main=dict(
            type='CAMHead', in_channels=1280, in_index=0, num_classes=num_fg_classes, pool='gmp')),
    decode_head=dict(
        type='mmseg.ASPPHead',
        in_channels=1280,
        in_index=0,
        channels=128,
        dilations=(1, 6, 12, 18),
        num_classes=num_fg_classes + 1,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)),
    label_sources=dict(
        seg=dict(
            type='CAMLabelSource',
            cam='main',
            norm='minmax',
            refiner=dict(type='PARRefiner', bg_high=0.7, bg_low=0.25))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main'),
        # the unchanged mmseg head's own loss (its loss_decode) on the PAR labels
        dict(
            type='SegTerm',
            name='decode',
            label='seg',
            loss='head',
            schedule=dict(type='StepOn', start=seg_loss_start, strict=False)),
    ],
    test_cfg=dict(mode='whole'))

_data = dict(data_root=data_root)
train_dataloader = dict(batch_size=8, num_workers=2, dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)

optim_wrapper = dict(
    optimizer=dict(lr=0.05),
    paramwise_cfg=dict(custom_keys={
        'cam_heads': dict(lr_mult=10.0),
        'decode_head': dict(lr_mult=10.0)
    }))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
