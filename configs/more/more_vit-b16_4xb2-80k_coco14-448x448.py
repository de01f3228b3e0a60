# MoRe with ViT-B/16 on COCO 2014 (80 classes, 84 class tokens): samples per GPU 2 (script
# default --spg 2), 8 images per step, 80k iterations (README val 47.4). scripts/train_coco.py:
# bkg 0.45, high 0.65, low 0.25; CAM scales (1, 0.5, 0.75, 1.25, 1.5); only cls / cls_aux /
# attri until 8k; PTC from 8k; CLE (temp 0.1) and UNE from 12k; seg + reg from 16k; CLE / UNE
# masks switch from the aux CAM to the final CAM after --cam2mask 50000. Weights w_cle 0.1 and
# w_une 0.01 are the script defaults (the bundled COCO log shows 0.05 and 0.0).
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/more_vit-b16.py',
]
data_root = 'data/coco14'
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'
crop_size = (448, 448)
max_iters = 80000
batch_size = 2
num_fg_classes = 80
bkg_thr, high_thr, low_thr = 0.45, 0.65, 0.25
cam_ms = dict(preset='toco', scales=(1.0, 0.5, 0.75, 1.25, 1.5))
ptc_start, cle_start, seg_start, mask_switch = 8000, 12000, 16000, 50000

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(
        class_tokens=dict(num=num_fg_classes + 4, drop=4, drop_pos_std=1.0),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(main=dict(num_classes=num_fg_classes), aux=dict(num_classes=num_fg_classes)),
    decode_head=dict(num_classes=num_fg_classes + 1),
    label_sources=dict(
        _delete_=True,
        aff=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=0.65,
            ignore_band=(low_thr, high_thr)),
        cle_aux=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, 0.5)),
        final=dict(
            type='CAMLabelSource',
            cam='main',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(0.35, 0.6)),
        seg=dict(
            type='CAMLabelSource',
            cam='main',
            multi_scale=cam_ms,
            refiner=dict(type='PARRefiner', bg_high=high_thr, bg_low=low_thr))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main'),
        dict(type='ClsTerm', name='cls_aux', cam='aux'),
        dict(type='AttriTerm', name='attri', in_dim=768, temp=0.07),
        dict(
            type='PTCTerm',
            name='ptc',
            label='aff',
            weight=0.3,
            schedule=dict(type='StepOn', start=ptc_start),
            skip_when_off=True),
        dict(
            type='CLETerm',
            name='cle_aux',
            label='cle_aux',
            temp=0.1,
            weight=0.1,
            schedule=dict(type='Window', start=cle_start, end=mask_switch),
            skip_when_off=True),
        dict(
            type='CLETerm',
            name='cle',
            label='final',
            temp=0.1,
            weight=0.1,
            schedule=dict(type='StepOn', start=mask_switch),
            skip_when_off=True),
        dict(
            type='UNETerm',
            name='une_aux',
            label='aff',
            weight=0.01,
            schedule=dict(type='Window', start=cle_start, end=mask_switch),
            skip_when_off=True),
        dict(
            type='UNETerm',
            name='une',
            label='final',
            weight=0.01,
            schedule=dict(type='StepOn', start=mask_switch),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg',
            label='seg',
            loss='bg_fg',
            weight=0.12,
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
        dict(
            type='EnergyTerm',
            name='reg',
            label='seg',
            weight=0.05,
            loss=dict(weight=1e-7, sigma_rgb=15, sigma_xy=100, scale_factor=0.5),
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
    ],
    test_cfg=dict(predictor=dict(bg_thr=bkg_thr), cam=dict(cam_ms, bg_thr=bkg_thr)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.32, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='PackWSSSInputs'),
]
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
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2))
randomness = dict(seed=0)
