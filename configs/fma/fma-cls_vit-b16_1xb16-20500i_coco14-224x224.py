# FMA step 1 (classification prompt task) on MS-COCO 2014 train (configs/COCO/cls/cfg.py):
# the VOC recipe with CLIP-ES's 80 COCO names and 23 bg names, 20500 iterations (500 warm-up
# + 4 x 5000), a checkpoint every 2050 iterations; the official coarse seeds come from
# iteration 6150 (configs/COCO/cls/infer/6150):
#   python3 tools/s2c_segment_everything.py THIS --preset fma
#   python3 tools/train.py THIS --work-dir work_dirs/fma-cls_coco14
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-cls_coco14/iter_6150.pth \
#       --out-dir work_dirs/fma-cls_coco14/seeds
# CAA: 1 Sinkhorn round, power 2, at the CAM, box threshold 0.6 (the COCO 'att1次,·6阈,
# aff2次,at_cam' inference setting; unverified that the final run used it); SAMS bg power:
# the official run searched {0.3, 0.4, 0.5} against the train GT; 0.5 here (not tuned).
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/fma_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco14'
crop_size = (224, 224)
batch_size = 16
warmup_iters = 500
max_iters = 500 + 4 * 5000
warmup_end_factor = 1.0  # official code: 0.01 (constant 1e-5 warm-up)
fma_segments_dir = 'work_dirs/fma_sams/coco14_vit-h'
# -----------------------------
model = dict(
    data_preprocessor=dict(size=crop_size),
    class_names=[
        'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus',
        'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter',
        'bench', 'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
        'giraffe', 'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase',
        'frisbee', 'skis', 'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove',
        'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife',
        'dessertspoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
        'hot dog', 'pizza', 'donut', 'cake', 'chair seat', 'sofa', 'pottedplant', 'bed',
        'diningtable', 'toilet', 'tvmonitor screen', 'laptop', 'mouse', 'remote control',
        'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
        'clock', 'vase', 'scissors', 'teddy bear', 'hairdrier,blowdrier', 'toothbrush'
    ],
    bg_class_names=[
        'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river',
        'sea', 'railway', 'railroad', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road',
        'rock', 'street', 'valley', 'bridge'
    ],
    box_thr=0.6,
    caa_at='cam')

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=288, max_long=480),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=_data)
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=_data)
pseudo_label_cfg = dict(
    bg_thr=0.5, refiners=[dict(type='FMASAMSRefiner', mask_dir=fma_segments_dir, bg_pow=0.5)])

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-5 / 1e-3,
        end_factor=warmup_end_factor,
        begin=0,
        end=warmup_iters,
        by_epoch=False),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min=0.0,
        begin=warmup_iters,
        end=max_iters,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max(max_iters // 10, 1000),
        max_keep_ckpts=-1))  # keep iter_6150
randomness = dict(seed=0)
