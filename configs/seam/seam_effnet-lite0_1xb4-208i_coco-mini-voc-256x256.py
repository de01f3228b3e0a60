# SEAM, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL ImageNet
# EfficientNet-Lite0 weights. SEAM's recipe except what a 2-core CPU forces, scaled so:
#   backbone  ResNet-38, OS 8            -> EfficientNet-Lite0, output stride 16 IRN-style (the
#             stride-2 stage 4 set to stride 1, no dilation; the CAM baseline's setting): OS 8
#             with dilation is ~4x slower on these cores
#   PCM feats conv4 (512) + conv5 (1024) -> stage5 (112 ch, the last stage at the native stride
#             16, as conv4 is the last stage at ResNet-38's native stride 8) + stage7 (320 ch,
#             the input of the 1280-ch head conv, as conv5 is the input of the b6/b7 head
#             blocks); CAM feature conv6 (4096) -> the head conv (1280). All three are on the
#             CAM grid, which PCM needs
#   frozen    conv1a, b2* + all BN       -> stem + stage1 (stride <= 2) + all BN (running stats
#             via norm_eval, affine via lr_mult 0)
#   crop      448, long side 448-768     -> 256, long side 256-439 (x 256 / 448)
#   batch     8                          -> 4
#   schedule  8 epochs of train_aug      -> 8 epochs of the 104 images at batch 4, drop_last:
#             104 // 4 * 8 = 208 iterations; lr 0.01, poly 0.9, groups x1 / x10 unchanged
#   view 2    x0.3 of the crop            unchanged (256 -> 76 px, a 5x5 CAM grid)
#   eval      SEAM's inference (cam_rv, 4 scales x flip summed, SEAM min-max) on coco-mini
#             train, threshold sweep (seam-seeds_effnet-lite0_...py)
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/seam_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/seam_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (256, 256)
batch_size = 4
max_iters = 104 // 4 * 8
# -----------------------------
model = dict(
    data_preprocessor=dict(
        mean=[127.0, 127.0, 127.0],  # the converted TF EfficientNet-Lite weights
        std=[128.0, 128.0, 128.0],
        size=crop_size),
    backbone=dict(
        backbone=dict(
            _delete_=True,
            type='EfficientNetLite',
            arch='lite0',
            out_indices=(5, 7, 8),
            strides=(1, 2, 2, 2, 1, 1, 1),
            frozen_stages=1,
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    cam_heads=dict(cam=dict(in_channels=1280, pcm_in_channels=(112, 320))))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'cam_heads': dict(lr_mult=10.0, decay_mult=1.0),
            '.bn.': dict(lr_mult=0.0, decay_mult=0.0)  # BN affine frozen, as ResNet-38's
        }))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=256, max_long=439),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=(127, 127, 127), seg=255)),  # the mean
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=_data)
# tools/test.py on this config scores the CAM seeds on the training images (threshold sweep)
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
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
# stage1         tools/train.py on this config (SEAM's own training).
# seeds          tools/test.py of this config: its test_dataloader is the TRAINING split
#                and its evaluator a CAMMetric threshold sweep (PCM output, preset='seam':
#                scales (0.5, 1, 1.5, 2) x flip), the chain behind the README's measured seeds.
# pseudo_labels  tools/generate_pseudo_labels.py of this config (the same training images and
#                CAMs) at the sweep's best bg_thr: CAM labels with a
#                background threshold (SEAM's AffinityNet random walk was not run on coco-mini).
# stage2         the shared DeepLabV3+ (EfficientNet-Lite0) on those labels, then its val test:
#                the same stage 2 for every row of the benchmark.
wsss_recipe = dict(
    stage1='this',
    seeds='this',
    pseudo_labels='this',
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
