# CPN, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL ImageNet
# EfficientNet-Lite0 weights. CPN's recipe except what a 2-core CPU forces, scaled as the SEAM
# CPU config (configs/seam/seam_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py):
#   backbone  ResNet-38, OS 8            -> EfficientNet-Lite0, output stride 16 IRN-style (no
#             dilation); PCM/PRCM features stage5 (112) + stage7 (320), CAM feature the head
#             conv (1280); stem + stage1 + all BN frozen (see the SEAM config for why)
#   crop      448, long side 448-768     -> 224, long side 224-384 (x 224 / 448): smaller than
#             SEAM's CPU crop (256) because CPN runs three full-size views per step (4x SEAM's
#             time per iteration at 256, measured), to stay within ~8 min
#   batch     4                          (CPN's own batch, unchanged)
#   schedule  8 epochs of train_aug      -> 8 epochs of the 104 images at batch 4, drop_last:
#             104 // 4 * 8 = 208 iterations; lr 0.01, poly 0.9, groups x1 / x10 unchanged
#   pair      SLIC n_segments 300, compactness 10 unchanged (on the 224 crop ~300 superpixels
#             of ~13 px, vs ~26 px at 448)
#   eval      CPN's inference (= SEAM's; the /2 is a threshold rescale, not applied) on
#             coco-mini train, threshold sweep
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/cpn_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/cpn_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (224, 224)
batch_size = 4
max_iters = 104 // 4 * 8
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
             'flip', 'flip_direction', 'reduce_zero_label', 'img_labels', 'visible_ratio')
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
    dict(type='RandomResizeLong', min_long=224, max_long=384),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=(127, 127, 127), seg=255)),  # the mean
    dict(
        type='SuperpixelComplementaryPair',
        mean=(127.0, 127.0, 127.0),
        std=(128.0, 128.0, 128.0),
        n_segments=300,
        compactness=10,
        hide_ratio=0.5),
    dict(type='PackWSSSViews', keys=('visible_img', 'hidden_img'), meta_keys=meta_keys),
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
# stage1         tools/train.py on this config (CPN's own training).
# seeds          tools/test.py of this config: its test_dataloader is the TRAINING split
#                and its evaluator a CAMMetric threshold sweep (PCM + PRCM output,
#                preset='seam'), the chain behind the README's measured seeds.
# pseudo_labels  tools/generate_pseudo_labels.py of this config (the same training images and
#                CAMs) at the sweep's best bg_thr: CAM labels with a
#                background threshold (the paper's random-walk stage was not run on coco-mini).
# stage2         the shared DeepLabV3+ (EfficientNet-Lite0) on those labels, then its val test:
#                the same stage 2 for every row of the benchmark.
wsss_recipe = dict(
    stage1='this',
    seeds='this',
    pseudo_labels='this',
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
