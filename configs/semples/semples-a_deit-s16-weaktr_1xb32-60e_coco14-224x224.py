# SemPLeS stage (a), Segment-Label Matching, on COCO 2014 train (reference §6; official
# README, COCO "Training (a)-(c)"):
#   main1.py --batch-size 32 --epochs 60 --reduction 4 --pool-type avg --lr 0.00000512
#            --hypers 0.75 --resume WeakTr_results_coco/WeakTr/checkpoint_best_mIoU.pth
# i.e. L_OTM + 0.75 L_BTM, AAF reduction 4 with mean pooling, AdamW lr 5.12e-6 x 32 / 512
# = 3.2e-7, wd 0.03, cosine per epoch, 60 epochs; the VOC config's augmentation.
# The official COCO model has 90 class tokens (COCO category ids, 10 unused); convert it
# with tools/model_converters/weaktr.py --coco90-to-80 (the 80 used classes).
_base_ = [
    '../_base_/models/semples_deit-s16-weaktr.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
crop_size = (224, 224)
batch_size = 32
max_epochs = 60
base_lr = 0.00000512
weaktr_checkpoint = 'checkpoints/weaktr/weaktr_deit-s16_coco14_mmwsss.pth'
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    backbone=dict(
        class_tokens=dict(num=num_fg_classes),
        init_cfg=dict(type='Pretrained', checkpoint=weaktr_checkpoint, prefix='backbone.')),
    cam_heads=dict(
        weaktr=dict(
            num_classes=num_fg_classes,
            reduction=4,
            pool='avg',
            init_cfg=dict(type='Pretrained', checkpoint=weaktr_checkpoint, prefix='cam_head.'))),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='matching',
            clip={{_base_.semples_clip}},
            dataset='coco',
            lambda1=0.75,
            clip_input='clip'),
    ],
    test_cfg=dict(cam=dict(scales=(1.0, 0.8, 1.2))))
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
randomness = dict(seed=504)
