# WeCLIP with a frozen OpenAI CLIP ViT-B/16 on MS-COCO 2014: 1 GPU x 4 images, 80k
# iterations, crop 320 (official configs/coco_attn_reg.yaml, WeCLIP_model/model_attn_aff_coco.py,
# clip_tool.py: perform_single_coco_cam): COCO prompts (CLIP-ES names, 23 bg concepts), box
# threshold 0.7, RFM over the last 10 attention maps after iteration 40000. Author (issue #4):
# val 47.1 with CRF.
#   python tools/train.py configs/weclip/weclip_vit-b16_1xb4-80k_coco14-320x320.py
# Official quirk of the RFM onset (the counter also counts validation forwards: one per val
# image every 10k iterations, so with the 40k-image val split the RFM starts at iteration
# 10000): model.label_sources.seg.rfm_onset_val=dict(interval=10000, num_images=<val size>)
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/weclip_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco14'
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (320, 320)
max_iters = 80000
batch_size = 4
num_classes = 81
# -----------------------------
coco_names = [
    'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench',
    'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
    'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase', 'frisbee', 'skis',
    'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon', 'bowl',
    'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
    'cake', 'chair seat', 'sofa', 'pottedplant', 'bed', 'diningtable', 'toilet', 'tvmonitor screen',
    'laptop', 'mouse', 'remote control', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
    'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hairdrier,blowdrier', 'toothbrush'
]
coco_bg_names = [
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea',
    'railway', 'railroad', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road', 'rock',
    'street', 'valley', 'bridge'
]
model = dict(
    data_preprocessor=dict(size=crop_size, num_classes=num_classes - 1),
    branches=dict(
        net=dict(
            backbone=dict(backbone=dict(clip=dict(checkpoint=clip_checkpoint))),
            decode_head=dict(num_classes=num_classes))),
    label_sources=dict(
        seg=dict(
            class_names=coco_names,
            bg_class_names=coco_bg_names,
            box_thr=0.7,
            rfm_layers=10,
            rfm_start=40000)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# test_msc_flip_coco.py: long side 512, scales [1, 0.75] + flip in the predictor
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=50,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=1.0,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=200, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2))
randomness = dict(seed=1, deterministic=False)
