# USAGE (CNN variant), CPU-sized, on coco-mini (VOC label space) with the REAL ImageNet
# EfficientNet-Lite0. NOT FROM RELEASED CODE (none was released): the losses are our reading of
# the abstract, see configs/_base_/models/usage_resnet38d.py and configs/usage/README.md.
# Everything that is not USAGE is the coco-mini CAM baseline (configs/cam/cam-inhead_...), so the
# two compare directly: EfficientNet-Lite0 at output stride 16 (IRN-style), BN and stages <=
# stride 8 frozen, crop 320, batch 8, 300 iterations, SGD lr 0.05 momentum 0 wd 1e-4 poly 0.9,
# head x10 and started from the ImageNet classifier mapped to the VOC classes, no dropout, IRN's
# CAM inference. USAGE replaces the baseline's GAP + soft-margin loss by the generation loss
# (CNN temperature 2.0) and adds the consistency with SEAM's x0.3 view (a 96x96 view here).
# Run:
#   python3 tools/train.py configs/usage/usage_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/usage_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (320, 320)
max_iters = 300
batch_size = 8
# -----------------------------
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0], size=crop_size),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(8, ),
        strides=(1, 2, 2, 2, 1, 1, 1),
        frozen_stages=3,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        main=dict(
            in_channels=1280,
            in_index=0,
            dropout_ratio=0.0,
            init_cfg=[
                dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
                dict(type='ClassifierTransfer', checkpoint=pretrained, class_map='voc'),
            ])),
    test_cfg=dict(cam=dict(_delete_=True, preset='irn', bg_thr=0.15)))

_data = dict(data_root=data_root)
train_dataloader = dict(batch_size=batch_size, num_workers=2, dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
# no decode head: `tools/test.py` on this config scores the CAMs as segmentation (fixed bg_thr)
# on val; the seeds config scores them on the training images. No validation while training.
test_dataloader = dict(dataset=_data)
val_dataloader = None
val_evaluator = None

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'cam_heads': dict(lr_mult=10.0)}))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# ---- the whole WSSS recipe (tools/run_pipeline.py, tools/benchmark.py) ----
# stage1         tools/train.py on this config (USAGE's own training).
# seeds          tools/test.py of usage-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py
#                on the training images: IRN-style CAM inference, CAMMetric threshold sweep
#                (the chain behind the README's measured seeds).
# pseudo_labels  tools/generate_pseudo_labels.py of the same seeds config (its test_dataloader
#                is the training split), at the sweep's best bg_thr: CAM labels with a
#                background threshold, as the CAM baseline's.
# stage2         the shared DeepLabV3+ (EfficientNet-Lite0) on those labels, then its val test:
#                the same stage 2 for every row of the benchmark.
# Paths, not 'this': the seeds config inherits this recipe and must expand to the same steps.
_usage_train = 'configs/usage/usage_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_usage_seeds = 'configs/usage/usage-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
wsss_recipe = dict(
    stage1=_usage_train,
    seeds=_usage_seeds,
    pseudo_labels=_usage_seeds,
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
