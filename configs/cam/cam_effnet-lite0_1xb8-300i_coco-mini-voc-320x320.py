# The CAM baseline, CPU-sized, on coco-mini in the VOC label space (20 classes).
# Everything is read from `data_root` (the output of tools/dataset_converters/coco.py), so
# pointing it at any other COCO set converted the same way trains and evaluates that set.
#
# Recipe: IRN's CAM classifier (reference methods-consistency §1.2) with an ImageNet
# EfficientNet-Lite0 instead of ResNet-50: output stride 16 obtained as IRN does it (the
# last stride-2 stage set to stride 1, no dilation), BN frozen (IRN's FixedBatchNorm),
# early layers frozen up to stride 8 (IRN detaches its stride-8 stage-2 output), GAP +
# 1x1 classifier without bias, multi-label soft-margin loss, SGD poly 0.9, classifier
# lr x10, wd 1e-4; lr 0.1 scaled linearly to batch 8 -> 0.05. CAM inference as IRN:
# scales (1.0, 0.5, 1.5, 2.0), flip summed, scales summed, per-class max normalisation.
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
# -----------------------------

data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[127.0, 127.0, 127.0],  # the converted TF EfficientNet-Lite weights
    std=[128.0, 128.0, 128.0],
    bgr_to_rgb=True,
    size=crop_size,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(8, ),
        strides=(1, 2, 2, 2, 1, 1, 1),  # output stride 16, IRN-style (no dilation)
        frozen_stages=3,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='CAMHead',
        in_channels=1280,
        in_index=0,
        num_classes=num_fg_classes,
        pool='gap',
        loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(preset='irn', bg_thr=0.15))

_data = dict(data_root=data_root)
train_dataloader = dict(batch_size=8, num_workers=2, dataset=_data)
val_dataloader = dict(dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
# `tools/test.py` on this config reports the best background threshold and the whole curve:
# seeds are scored on the training images (the pseudo-label split), with their masks
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None

optim_wrapper = dict(optimizer=dict(lr=0.05))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
pseudo_label_cfg = dict(refiners=[], bg_thr=0.15)
