# SemPLeS stage (a), Segment-Label Matching, on VOC12 train_aug (reference §6; official
# README "Training (a)-(c)", main1.py / engine1.py): the WeakTr CAM model (user checkpoint,
# converted by tools/model_converters/weaktr.py) trained by L_OTM + 2.4 L_BTM against the
# frozen CLIP ViT-B/32; no classification loss. Official command:
#   main1.py --batch-size 64 --epochs 60 --reduction 8 --pool-type max --lr 0.000512
#            --hypers 2.4 --resume WeakTr_results/WeakTr/checkpoint_best_mIoU.pth
# Recipe: batch 64 (1 GPU), 60 epochs of train_aug (10,582 // 64 = 165 steps, drop_last),
# input 224 (timm's ImageNet train transform: RandomResizedCrop 0.08-1 bicubic, h-flip,
# RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25 'pixel'; colour jitter is off when
# RandAugment is on), timm AdamW with the linearly scaled lr 0.000512 x 64 / 512 = 6.4e-5,
# wd 0.03 on every parameter, cosine per epoch to 0 (timm CosineLRScheduler, no warm-up).
# The official run keeps the epoch with the best seed mIoU (checkpoint_best_mIoU.pth, a
# CRF threshold sweep on VOC train every epoch); this config keeps the last epochs.
#   python tools/train.py THIS --cfg-options \
#       model.loss_terms.0.clip.checkpoint=CLIP_PT \
#       model.backbone.init_cfg.checkpoint=WEAKTR model.cam_heads.weaktr.init_cfg.checkpoint=WEAKTR
# Next: semples-b_deit-s16-weaktr_1xb128-60e_voc12aug-224x224.py (load_from this run).
_base_ = [
    '../_base_/models/semples_deit-s16-weaktr.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
crop_size = (224, 224)
batch_size = 64
max_epochs = 60
base_lr = 0.000512  # --lr, scaled by batch / 512 as main1.py does
# timm create_transform(is_training=True, ...) in mmpretrain's transforms (BGR images)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandAugment',
        _scope_='mmpretrain',  # its sub-transforms are built in mmpretrain's registry
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
train_dataloader = dict(
    batch_size=batch_size, num_workers=8, drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
test_cfg = dict(type='TestLoop')
# fp32 here; the official run uses torch.cuda.amp (AmpOptimWrapper on a GPU)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=base_lr * batch_size / 512,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.03))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
randomness = dict(seed=504)  # main*.py --seed 504
