# MuP-VSS on PASCAL VOC 2012 train_aug (10,582 images) with ResNet-38 (WideResNet-38, the
# backbone of the published 73.6 val / 74.7 test [secondary]). NOT FROM RELEASED CODE (none
# exists, reference methods-prototype.md §8): the losses, temperatures, weights, PEM size and
# schedule are our choices (configs/mupvss/README.md). The schedule (open) is the WR38
# PSA-family recipe (psa / SEAM train scripts): batch 8, 8 epochs with drop_last = 10582 // 8 * 8
# = 10576 iterations, crop 448, RandomResizeLong(448, 768), flip, ColorJitter(0.3, 0.3, 0.3,
# 0.1), SGD lr 0.01 wd 5e-4 poly 0.9, new layers x10; the PolyOptimizer momentum quirk is
# `--cfg-options optim_wrapper.optimizer.momentum_quirk=True`.
# Weights: python tools/model_converters/resnet38.py ilsvrc-cls_rna-a1_cls1000_ep-0001.params \
#              checkpoints/resnet38d_ilsvrc_mmwsss.pth
# CAM seeds on VOC train (1,464 images): mupvss-seeds_resnet38d_1xb8-8e_voc12aug-448x448.py.
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/mupvss_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (448, 448)
batch_size = 8
max_iters = 10582 // 8 * 8
# -----------------------------
# the preprocessor's mean in the pipeline's BGR order, rounded to uint8: the PSA-family crop
# container is 0 after normalisation, i.e. the mean colour
pad_bgr = (104, 116, 124)

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=448, max_long=768),  # PIL bicubic
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=pad_bgr, seg=255)),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=8,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline, **_data))
test_dataloader = dict(dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
