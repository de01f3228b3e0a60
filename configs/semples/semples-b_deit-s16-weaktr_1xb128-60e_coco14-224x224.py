# SemPLeS stage (b), Contrastive Prompt Learning, on COCO 2014 train:
#   main2.py --batch-size 128 --epochs 60 --reduction 4 --pool-type avg --lr 0.01
#            --hypers 0.01 --btp_length 30 --resume semples1/coco/checkpoint_best_mIoU.pth
# 80 x 30 x 512 prompts, lambda2 0.01, AdamW lr 0.01 x 128 / 512 = 2.5e-3, RandomResizedCrop +
# flip only; the stage-(a) CAM model frozen (see the VOC stage-b config).
_base_ = ['./semples-a_deit-s16-weaktr_1xb32-60e_coco14-224x224.py']
batch_size = 128
base_lr = 0.01
load_from = 'work_dirs/semples-a_deit-s16-weaktr_1xb32-60e_coco14-224x224/epoch_60.pth'
model = dict(
    backbone=dict(frozen=True, init_cfg=None),
    cam_heads=dict(weaktr=dict(frozen=True, init_cfg=None)),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='prompt',
            clip={{_base_.semples_clip}},
            dataset='coco',
            lambda2=0.01,
            n_ctx=30,
            clip_input='clip'),
    ])
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
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=base_lr * batch_size / 512))
