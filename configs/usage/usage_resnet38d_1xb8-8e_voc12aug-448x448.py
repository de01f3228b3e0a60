# USAGE, CNN variant, on VOC 2012 train_aug with ResNet-38 (the README lists DeiT-S and
# ResNet-38). NOT FROM RELEASED CODE: no code was released; the losses, temperatures, weights
# and schedule are unverified (reference §9). The README says the code builds on SEAM, so this
# is SEAM's recipe (reference §2) with the USAGE terms of configs/_base_/models/usage_resnet38d.py:
# batch 8, 8 epochs of train_aug (10,582 iterations), crop 448, RandomResizeLong(448, 768),
# flip, colour jitter, SGD lr 0.01 wd 5e-4 poly 0.9, second view = the crop x0.3.
# Weights: python tools/model_converters/resnet38.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#              checkpoints/resnet38d_ilsvrc_mmwsss.pth
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/usage_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
max_iters = 10582  # 8 epochs x 10,582 images / batch 8
batch_size = 8
# -----------------------------
# SEAM's train transform (ColorJitter approximated by mmseg's PhotoMetricDistortion)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=448, max_long=768),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
# CAM seeds on VOC train (1,464 images): configs/usage/usage-seeds_*.py; the README refines
# them with PSA (configs/affinitynet/)
test_dataloader = dict(dataset=_data)
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2))
randomness = dict(seed=0)
