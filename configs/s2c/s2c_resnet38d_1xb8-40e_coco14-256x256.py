# S2C on COCO 2014 train (80 classes). The official code is VOC-only (C=20, voc12/ lists,
# no COCO script or numbers in the README); the paper's COCO schedule is NOT in the
# reference (unverified), so this is the VOC recipe unchanged (batch 8, 40 epochs of the
# 82,081 labelled train images with drop_last, crop 256, lr 0.02, CPM from epoch 2) with
# C = 80 and the COCO lists. Write the SAM segment maps first (vit_h, default AMG):
#   python3 tools/s2c_segment_everything.py THIS [--shard i/n]   (resumable)
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/s2c_resnet38d.py',
]
data_root = 'data/coco14'
num_fg_classes = 80
crop_size = (256, 256)
batch_size = 8
iters_per_epoch = 82081 // 8
max_iters = iters_per_epoch * 40
s2c_segments_dir = 'work_dirs/s2c_segments/coco14_sam-vit-h_default'
pad_bgr = (104, 116, 124)

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(cam=dict(num_classes=num_fg_classes)),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cam'),
        dict(
            type='S2CSSCTerm',
            name='ssc',
            branch='net',
            cam='cam',
            temperature=1.0,
            columns='image'),
        dict(
            type='S2CCPMTerm',
            name='cpm',
            branch='net',
            cam='cam',
            sam={{_base_.s2c_sam}},
            scales=(0.5, 1.0, 1.5, 2.0),
            point_thr=0.5,
            min_distance=20,
            drop_first_peak=True,
            mask_index=2,
            schedule=dict(type='StepOn', start=2 * iters_per_epoch, strict=False)),
    ])
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadSAMSegments', segments_dir=s2c_segments_dir),
    dict(type='RandomResizeLong', min_long=256, max_long=512),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='mmpretrain.ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(type='mmpretrain.RandomGrayscale', prob=0.02, keep_channels=True),
    dict(type='RemapSAMSegments'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=pad_bgr, seg=0)),
    dict(type='MoveSAMSegments'),
    dict(type='PackWSSSMaps', maps=('gt_sam_segments', )),
]
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, drop_last=True, dataset=dict(pipeline=train_pipeline))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
# CAM seeds on COCO train would be scored by tools/test.py with CAMMetric; val by default
test_evaluator = dict(_delete_=True, type='CAMMetric')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=5123)
