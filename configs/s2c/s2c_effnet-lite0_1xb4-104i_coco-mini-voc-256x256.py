# S2C, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL ImageNet
# EfficientNet-Lite0 weights and a RANDOM-weight tiny SAM (no SAM weights on this machine:
# the SAM segments and prompts are plumbing, not SAM's; its seed mIoU is not an S2C
# result). S2C's recipe except what a 2-core CPU forces, scaled so:
#   backbone  ResNet-38 conv6 (4096), OS 8 -> EfficientNet-Lite0 head conv (1280), output
#             stride 16 IRN-style (the CAM baseline's setting); fc8 1280 -> 256 -> fc9
#   frozen    conv1a, b2* + all BN       -> stem + stage1 + all BN (norm_eval, affine lr 0)
#   SAM       vit_h, 1024 input, AMG defaults -> 'tiny' (SAM_ARCHS: 128 input, random
#             weights); AMG: 4 x 4 points (32 x 32 took ~100 s an image here; 4 x 4 gives
#             48 segments an image, the order of SAM vit_h's count on VOC), quality
#             thresholds 0 and no box NMS (random weights predict no confident mask, and
#             their near-identical masks would be merged into one by NMS, leaving SSC a
#             single segment, i.e. a zero loss)
#   crop      256, long side 256-512, colour jitter, grayscale: unchanged
#   batch     8                          -> 4
#   schedule  40 epochs, CPM from epoch 2 -> 4 epochs of the 104 images at batch 4,
#             drop_last: 104 // 4 * 4 = 104 iterations, CPM from epoch 2 (iteration 52);
#             lr 0.02, wd 5e-4, poly 0.9 unchanged. Timed here under a load of ~10 on the
#             2 cores: 17 s an iteration before CPM, 28 s with it (192 segments); 104
#             iterations with 48 segments are sized for <= ~8 min on 2 idle cores
# Steps (the segment maps once, resumable; then train; then the seeds, threshold sweep):
#   python3 tools/s2c_segment_everything.py THIS --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/train.py THIS --work-dir work_dirs/s2c_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/test.py THIS work_dirs/s2c_coco-mini/iter_104.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/s2c_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (256, 256)
batch_size = 4
iters_per_epoch = 104 // 4
max_iters = iters_per_epoch * 4
s2c_segments_dir = 'work_dirs/s2c_segments/coco-mini-voc_sam-tiny-random'
# -----------------------------
s2c_sam = dict(
    type='SegmentAnything',
    arch='tiny',
    checkpoint=None,
    amg_cfg=dict(
        points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0))
model = dict(
    data_preprocessor=dict(
        mean=[127.0, 127.0, 127.0],  # the converted TF EfficientNet-Lite weights
        std=[128.0, 128.0, 128.0],
        size=crop_size),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(8, ),
        strides=(1, 2, 2, 2, 1, 1, 1),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(cam=dict(in_channels=1280)),
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
            sam=s2c_sam,
            scales=(0.5, 1.0, 1.5, 2.0),
            point_thr=0.5,
            min_distance=20,
            drop_first_peak=True,
            mask_index=2,
            schedule=dict(type='StepOn', start=2 * iters_per_epoch, strict=False)),
    ])
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.bn.': dict(lr_mult=0.0, decay_mult=0.0)}))

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
    dict(type='Pad', size=crop_size, pad_val=dict(img=(127, 127, 127), seg=0)),  # the mean
    dict(type='MoveSAMSegments'),
    dict(type='PackWSSSMaps', maps=('gt_sam_segments', )),
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

# tools/run_pipeline.py: S2C's chain (official get_se_map.py, train, infer + eval, then a
# segmenter on the CAM pseudo labels), stage 2 on the shared DeepLabV3+ config:
#   sam_segments   tools/s2c_segment_everything.py THIS: SAM "segment everything" maps,
#                  written into this step's folder (resumable, seeded random tiny SAM)
#   stage1         tools/train.py THIS reading those maps (LoadSAMSegments is pipeline[1])
#   seeds          tools/test.py THIS on the training images: CAMMetric sweep
#   pseudo_labels  the CAM + background threshold (S2C's inference: MS + flip CAM, max-norm,
#                  a background threshold; its optional CRF is not configured here), at the
#                  sweep's best threshold as S2C's eval picks it
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
_s2c_stage2 = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(
        name='sam_segments',
        kind='tool',
        script='tools/s2c_segment_everything.py',
        args=['{config}', '--data-root', '{data_root}', '--out-dir', '{out}/segments'],
        config='this'),
    dict(
        name='stage1',
        kind='train',
        config='this',
        cfg_options={
            'train_dataloader.dataset.pipeline.1.segments_dir': '{dir:sam_segments}/segments'
        }),
    dict(name='seeds', kind='test', config='this', checkpoint='stage1', role='seeds'),
    dict(name='pseudo_labels', kind='labels', config='this', checkpoint='stage1', bg_thr='seeds'),
    dict(name='label_eval', kind='eval_labels', config='this', labels='pseudo_labels'),
    dict(name='stage2', kind='train', config=_s2c_stage2, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_s2c_stage2, checkpoint='stage2', role='final'),
])
