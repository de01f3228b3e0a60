# S2C on PASCAL VOC 2012 train_aug (10,582 images), the official recipe (train.py defaults):
# ResNet-38 (ilsvrc-cls_rna-a1 weights, tools/model_converters/resnet38.py), batch 8 (4 GPUs
# in ONE DataParallel batch of 8; BN is frozen, so one process with batch 8 is the same),
# 40 epochs with drop_last = 10582 // 8 * 40 = 52,880 iterations, random resize of the long
# side to an integer in [256, 512] (PIL bicubic; the segment map nearest), flip, ColorJitter
# (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale p 0.02, crop 256 (zero container = the mean
# colour; segment map 0 = ignored), lr 0.02, wd 5e-4, poly 0.9, seed 5123.
# SAM: vit_h (sam_vit_h_4b8939.pth). Before training, write the segment maps once:
#   python3 tools/s2c_segment_everything.py THIS [--shard i/n]   (resumable)
# then: python3 tools/train.py THIS. CAM seeds: s2c-seeds_resnet38d_1xb8-40e_voc12aug-256x256.py
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/s2c_resnet38d.py',
]
crop_size = (256, 256)
batch_size = 8
max_iters = 10582 // 8 * 40
s2c_segments_dir = 'work_dirs/s2c_segments/voc12aug_sam-vit-h_default'
pad_bgr = (104, 116, 124)  # the ImageNet mean in the pipeline's BGR order, rounded

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadSAMSegments', segments_dir=s2c_segments_dir),  # index + 1, 0 = no mask
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
    dict(type='RemapSAMSegments'),  # apply_tf_se: searchsorted after resize + flip
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=pad_bgr, seg=0)),
    dict(type='MoveSAMSegments'),
    dict(type='PackWSSSMaps', maps=('gt_sam_segments', )),
]
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, drop_last=True, dataset=dict(pipeline=train_pipeline))
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
randomness = dict(seed=5123)
