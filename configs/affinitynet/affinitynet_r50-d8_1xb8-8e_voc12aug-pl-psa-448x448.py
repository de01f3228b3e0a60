# AffinityNet (PSA, Ahn & Kwak CVPR'18) training stage on VOC12 train_aug, following
# the reference recipe (methods-consistency 1.1): crop 448, batch 8, 8 epochs,
# lr 0.1 (new layers x10), wd 5e-4, poly 0.9, resize_long (448, 768), h-flip,
# colour jitter. PSA's backbone is ResNet-38 (stride 8, conv4/5/6 -> 64/128/256 ->
# 448); here a dilated ResNet-50 (stride 8, layers 2/3/4).
#
# Labels: PNGs written offline by the PSAAffinityLabel refiner
#   python tools/generate_pseudo_labels.py \
#       configs/affinitynet/affinitynet-labels_cam-r50_voc12aug.py CAM_CKPT \
#       --out-dir data/VOCdevkit/VOC2012/affinitynet_labels
# (0 confident bg (ha), 1..20 confident fg (la), 255 in between).
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/VOCdevkit/VOC2012'
aff_label_dir = 'affinitynet_labels'  # relative to data_root (or absolute)
crop_size = (448, 448)
num_fg_classes = 20

data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,  # PSA pads the normalised crop with zeros
    seg_pad_val=254)  # padding votes for no class (PSA's "no score" region)
model = dict(
    type='AffinityNet',
    num_classes=num_fg_classes,
    radius=5,
    label_stride=8,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmseg.ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        frozen_stages=1,  # PSA freezes conv1a/b2 (the first stages)
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,  # PSA freezes every BatchNorm
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    aff_head=dict(
        type='AffinityHead',
        in_channels=(512, 1024, 2048),
        channels=(64, 128, 256),
        out_channels=448),
    loss=dict(type='AffinityLoss', weights=(0.25, 0.25, 0.5)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='RandomResizeLong', min_long=448, max_long=768),
    dict(type='RandomFlip', prob=0.5),
    # ColorJitter(0.3, 0.3, 0.3, 0.1) in PSA
    dict(
        type='mmseg.PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.7, 1.3),
        saturation_range=(0.7, 1.3),
        hue_delta=18),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=aff_label_dir),
        pipeline=train_pipeline))
# the affinity stage has no validation; its output is judged through the random walk
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

max_epochs = 8
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# Official quirk (methods-consistency 0.1): PSA's PolyOptimizer runs SGD with
# momentum = 5e-4 (the weight decay lands in the momentum slot). Default: the
# paper's plain SGD; set optimizer.momentum=5e-4 to reproduce the quirk.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'aff_head': dict(lr_mult=10.0)}))
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
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
