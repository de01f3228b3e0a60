# CPN on PASCAL VOC 2012 train_aug (10,582 images), the official recipe (train_cpn.py): ResNet-38
# (ilsvrc-cls_rna-a1 weights, tools/model_converters/resnet38.py), one GPU, batch 4, 8 epochs with
# drop_last = 10582 // 4 * 8 = 21160 iterations, crop 448, RandomResizeLong(448, 768), flip,
# ColorJitter(0.3, 0.3, 0.3, 0.1), lr 0.01, wd 5e-4, poly 0.9; the superpixel pair (SLIC 300 /
# compactness 10 on the normalised padded crop, half the ids drawn with replacement) is made
# per sample in the pipeline. CAM seeds: cpn-seeds_resnet38d_1xb4-8e_voc12aug-448x448.py. CPN has
# no COCO setting (no COCO config).
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/cpn_resnet38d.py',
]
crop_size = (448, 448)
batch_size = 4
max_iters = 10582 // 4 * 8
pad_bgr = (104, 116, 124)  # the ImageNet mean (BGR, uint8): the official container is 0
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
             'flip', 'flip_direction', 'reduce_zero_label', 'img_labels', 'visible_ratio')

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=448, max_long=768),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=pad_bgr, seg=255)),
    dict(
        type='SuperpixelComplementaryPair',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        n_segments=300,
        compactness=10,
        hide_ratio=0.5),
    dict(type='PackWSSSViews', keys=('visible_img', 'hidden_img'), meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=batch_size, num_workers=2, drop_last=True, dataset=dict(pipeline=train_pipeline))
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
