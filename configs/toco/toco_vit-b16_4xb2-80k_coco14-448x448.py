# ToCo with ViT-B/16 on COCO 2014 (80 classes): 4 GPUs x 2, 80k iterations (README val 42.2
# MS+CRF). COCO script (dist_train_coco_seg_neg.py): only the classification terms until 8k;
# seg + reg from 8k, with labels from the aux CAM until 12k; PTC / CTC from 12k; bkg 0.45,
# high 0.65.
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/toco_vit-b16.py',
]
data_root = 'data/coco14'
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'
crop_size = (448, 448)
max_iters = 80000
batch_size = 2
num_fg_classes = 80
bkg_thr, high_thr, low_thr = 0.45, 0.65, 0.25
cam_ms = dict(preset='toco')

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(main=dict(num_classes=num_fg_classes), aux=dict(num_classes=num_fg_classes)),
    decode_head=dict(num_classes=num_fg_classes + 1),
    label_sources=dict(
        _delete_=True,
        aff=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, high_thr)),
        # ToCo's COCO script takes the seg label from the aux CAM until 12k
        seg_aux=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            refiner=dict(type='PARRefiner', bg_high=high_thr, bg_low=low_thr)),
        seg=dict(
            type='CAMLabelSource',
            cam='main',
            multi_scale=cam_ms,
            refiner=dict(type='PARRefiner', bg_high=high_thr, bg_low=low_thr))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main'),
        dict(type='ClsTerm', name='cls_aux', cam='aux'),
        dict(
            type='PTCTerm',
            name='ptc',
            label='aff',
            weight=0.2,
            schedule=dict(type='StepOn', start=12000)),
        dict(
            type='CTCTerm',
            name='ctc',
            in_dim=768,
            roi_cam='aux',
            multi_scale=cam_ms,
            roi_thr=(low_thr, high_thr),
            weight=0.5,
            schedule=dict(type='StepOn', start=12000)),
        # seg/reg on from 8k: aux-CAM labels in (8k, 12k], final-CAM labels after 12k
        dict(
            type='SegTerm',
            name='seg_early',
            label='seg_aux',
            loss='bg_fg',
            weight=0.1,
            schedule=dict(type='Window', start=8000, end=12000),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg',
            label='seg',
            loss='bg_fg',
            weight=0.1,
            schedule=dict(type='StepOn', start=12000),
            skip_when_off=True),
        dict(
            type='EnergyTerm',
            name='reg',
            label='seg',
            weight=0.05,
            schedule=dict(type='StepOn', start=8000),
            skip_when_off=True),
    ],
    test_cfg=dict(cam=dict(preset='toco', bg_thr=bkg_thr)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomResizedCropView',
        out_key='view2',
        size=crop_size,
        scale=(0.4, 1.0),
        interpolation='bicubic'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSViews', keys=('view2', )),
]
# ToCo's validate() resizes every image to 448x448 (its ViT needs whole patches);
# predictions are resized back to the original size for scoring
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
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=2))
randomness = dict(seed=0)
