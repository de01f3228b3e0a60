# MMCST with DeiT-S/16 on MS-COCO 2014 train (80 classes). NOT FROM RELEASED CODE (reference
# §8). MCTformer's COCO run (run_coco.sh) is main.py with its defaults, as on VOC: 1 GPU x 64,
# 60 epochs (82,081 labelled train images // 64 = 1,282 iterations each -> 76,920), AdamW
# 6.25e-5, 5 warm-up epochs, cosine to 1e-5, timm's ImageNet transform; 80 visual + 80 text
# class tokens. Weights as in the VOC config.
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/mmcst_deit-s16.py',
]
# ---- frequently modified ----
data_root = 'data/coco14'
num_fg_classes = 80
crop_size = (224, 224)
batch_size = 64
iters_per_epoch = 1282  # 82,081 // 64 (drop_last)
max_iters = 60 * iters_per_epoch
warmup_iters = 5 * iters_per_epoch
# -----------------------------
coco_names = [
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush'
]
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(num_classes=num_fg_classes, class_names=coco_names),
    cam_heads=dict(
        main=dict(num_classes=num_fg_classes, text_offset=num_fg_classes),
        visual=dict(num_classes=num_fg_classes),
        text=dict(num_classes=num_fg_classes, offset=num_fg_classes)),
    loss_terms=[
        dict(type='ClsTerm', name='cls_visual', cam='visual', weight=1.0),
        dict(type='ClsTerm', name='cls_text', cam='text', weight=1.0),
        dict(type='ClsTerm', name='cls_patch', cam='main', weight=1.0),
        dict(
            type='MMCSTTextVisualTerm',
            name='tv',
            num_classes=num_fg_classes,
            text_offset=num_fg_classes,
            tau=0.07,
            anchors='present',
            weight=0.1),
        dict(
            type='MMCSTClassTokenTerm', name='ctc', num_classes=num_fg_classes, tau=0.1,
            weight=0.1),
    ])

# the VOC config's transforms (timm's ImageNet training transform)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        # built in mmpretrain's scope: its sub-policies live in mmpretrain's registry
        type='RandAugment',
        _scope_='mmpretrain',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(
        type='mmpretrain.RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[103.53, 116.28, 123.675],
        fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=10, dataset=dict(pipeline=train_pipeline, **_data))
# seeds on the training images (MCTformer generates its COCO maps on train2014): test.py with
# --cfg-options test_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt
#   test_evaluator.type=CAMMetric
test_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
val_dataloader = None
val_evaluator = None
val_cfg = None

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6.25e-5, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch * 10, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)
