# S&M on VOC 2012 train_aug with ResNet-38 (PSA/SEAM's CAM network). NOT FROM RELEASED CODE: no
# code exists; the paper's backbone, schedule and weights are unverified (reference §8), so this
# is SEAM's classification recipe (reference §2) with the S&M terms of
# configs/_base_/models/sm_resnet38d.py: batch 8, 8 epochs of train_aug (10,582 images ->
# 10,582 iterations), crop 448, RandomResizeLong(448, 768), flip, colour jitter, SGD lr 0.01
# wd 5e-4 poly 0.9. Weights: convert the official ImageNet ResNet-38 with
#   python tools/model_converters/resnet38.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#       checkpoints/resnet38d_ilsvrc_mmwsss.pth
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/sm_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
max_iters = 10582  # 8 epochs x 10,582 images / batch 8
batch_size = 8
# -----------------------------
# SEAM's train transform: RandomResizeLong(448, 768), h-flip, ColorJitter(0.3, 0.3, 0.3, 0.1)
# (here mmseg's PhotoMetricDistortion: not the same jitter), crop 448 padded (preprocessor)
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
# CAM seeds on VOC train (1,464 images; reference §0.5): configs/sm/sm-seeds_*.py
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
