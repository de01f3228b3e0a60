# BECO on VOC 2012 train_aug (configs/beco.json of ShenghaiRong/BECO): two DeepLabV3+
# ResNet-v1d-101, 4 GPUs x 4 images, 80 epochs (80 x 661 = 52,880 iterations at batch 16,
# drop_last), crop 512, SGD lr 0.01 momentum 0.9 wd 1e-4 (one group), poly 0.9 to 1e-5,
# seed 3223. README: val 70.9 without CRF.
# Offline labels and masks (stage 1, IRN; see configs/irn/README.md):
#   python tools/generate_pseudo_labels.py configs/beco/beco-labels_irn-rw_cam-r50_voc12aug.py \
#       CAM_CKPT --out-dir work_dirs/beco_voc12aug/pseudo_labels \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
# (writes <id>.png and conf_mask/<id>.png; the pseudo_label_dataloader split must be train_aug)
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/beco_r101-v1d.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'work_dirs/beco_voc12aug/pseudo_labels'
crop_size = (512, 512)
batch_size = 4  # per GPU, 4 GPUs
iters_per_epoch = 10582 // 16
max_epochs = 80
# -----------------------------
max_iters = iters_per_epoch * max_epochs
model = dict(
    data_preprocessor=dict(size=crop_size),
    batch_mixers=[
        dict(
            type='BECOClassMix',
            prob=0.5,
            ignore_bg=True,
            boundary_size=1,
            online_thr=0.95,
            online=dict(type='StepOn', start=iters_per_epoch, strict=False),
            branches=('b1', 'b2'),
            photometric=dict(type='AlbuPhotometric')),
    ])

# voc_pseu_mask train transforms: RandomResizedCropMask(512, scale=[0.5, 0.75, ...]) reads
# only the first two numbers as the area range (see RandomResizedCropSeg), h-flip
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='LoadConfidenceMask', label_dir=pseudo_label_dir),
    dict(type='RandomResizedCropSeg', size=crop_size, scale=(0.5, 0.75)),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='PackWSSSMaps', maps=('gt_conf_mask', )),
]
# val transforms: Resize to 512x512; predictions are resized back and scored at the
# original size (the official scores the resized labels)
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        label_file='cls_labels.npy',  # the chassis needs image labels in every batch
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=iters_per_epoch * 5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch * 5, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=3223)
