# Stage 2 on coco-mini (VOC label space), CPU-sized: mmseg's DeepLabV3+ recipe (its
# config inherited as is: decode head, loss, pipeline, SGD schedule) with the ImageNet
# EfficientNet-Lite0 backbone at output stride 16 (ASPP dilations 6/12/18 as DeepLabV3+
# uses at OS16), BN instead of SyncBN, no auxiliary head, trained on the pseudo labels of
# configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py (the quickstart).
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py'
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pseudo_label_dir = 'work_dirs/cam-inhead_coco-mini/pseudo_labels'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (320, 320)
max_iters = 300
# -----------------------------
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0], bgr_to_rgb=True, size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmwsss.EfficientNetLite',
        arch='lite0',
        out_indices=(2, 8),  # stride-4 features for the decoder, stride-16 for ASPP
        strides=(1, 2, 2, 2, 1, 1, 1),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        in_channels=1280,
        in_index=1,
        channels=128,
        dilations=(1, 6, 12, 18),
        c1_in_channels=24,
        c1_channels=24,
        num_classes=21,
        norm_cfg=norm_cfg),
    auxiliary_head=None)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(640, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(640, 320), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='mmwsss.PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='mmwsss.WSSSCOCODataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
