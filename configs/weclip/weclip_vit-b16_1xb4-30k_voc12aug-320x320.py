# WeCLIP with a frozen OpenAI CLIP ViT-B/16 on VOC 2012 train_aug: 1 GPU x 4 images, 30k
# iterations, crop 320 (official configs/voc_attn_reg.yaml; issues #4 / #9: val 74.9 without,
# 76.4 with CRF). CLIP weights: the OpenAI ViT-B-16.pt (TorchScript) or an open_clip state
# dict at `clip_checkpoint`; a missing file fails naming it.
#   python tools/train.py configs/weclip/weclip_vit-b16_1xb4-30k_voc12aug-320x320.py
#   python tools/test.py configs/weclip/weclip_vit-b16_1xb4-30k_voc12aug-320x320.py CKPT
# Official validation during training is on VOC `train` (1,464 images); here on val.
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/weclip_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
crop_size = (320, 320)
max_iters = 30000
batch_size = 4
# -----------------------------
model = dict(
    data_preprocessor=dict(size=crop_size),
    branches=dict(net=dict(backbone=dict(backbone=dict(clip=dict(checkpoint=clip_checkpoint))))))

# VOC12ClsDataset(aug=True): random_scaling 0.5-2.0, fliplr, random_crop 320 padded with
# black (here: right/bottom by the data preprocessor); no colour jitter
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# test_msc_flip_voc.py: the long side resized to 512; scales / flip in the predictor
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

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2))
randomness = dict(seed=1, deterministic=False)  # official setup_seed(1)
