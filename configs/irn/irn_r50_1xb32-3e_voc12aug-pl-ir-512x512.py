# IRN (Ahn, Cho & Kwak CVPR'19) training stage on VOC12 train_aug, following the
# reference recipe (methods-consistency 1.2): ImageNet ResNet-50 with strides
# (2, 2, 2, 1) and frozen BN, fully detached (only the heads train); boundary
# and displacement heads with GroupNorm; path affinities within radius 10 on the
# stride-4 map; 3 epochs, batch 32, crop 512, rescale (0.5, 1.5), h-flip,
# lr 0.1 (displacement head x10), wd 1e-4, poly 0.9.
#
# Labels: IR labels written offline by the IRLabel refiner
#   python tools/generate_pseudo_labels.py configs/irn/irn-labels_cam-r50_voc12aug.py \
#       CAM_CKPT --out-dir data/VOCdevkit/VOC2012/ir_labels
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/VOCdevkit/VOC2012'
ir_label_dir = 'ir_labels'  # relative to data_root (or absolute)
crop_size = (512, 512)

data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,  # IRN pads the normalised crop with 0, the label with 255
    seg_pad_val=255)
model = dict(
    type='IRN',
    radius=10,
    label_stride=4,
    freeze_backbone=True,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        frozen_stages=4,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    # IRN also feeds the 64-channel stem output (stride 4) to both branches;
    # mmseg's ResNet does not return it, so layer1..layer4 are used.
    irn_head=dict(
        type='IRNHead',
        in_channels=(256, 512, 1024, 2048),
        edge_channels=32,
        dp_channels=(128, 256, 256, 256),
        num_shallow=1,
        dp_mid=256),
    loss=dict(type='AffinityDisplacementLoss', aff_weight=1.0, dp_weight=1.0))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    # IRN rescales by a factor in (0.5, 1.5); VOC images are ~500 px long
    dict(type='RandomResizeLong', min_long=250, max_long=750),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=ir_label_dir),
        pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

max_epochs = 3
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# Official quirk (methods-consistency 0.1): IRN's PolyOptimizer runs SGD with
# momentum = 1e-4. Default: plain SGD; set optimizer.momentum=1e-4 to reproduce.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'irn_head.dp_': dict(lr_mult=10.0)}))
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
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1))
log_processor = dict(by_epoch=True)
