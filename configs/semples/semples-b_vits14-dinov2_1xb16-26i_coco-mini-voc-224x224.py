# SemPLeS stage (b), CPU-sized, on coco-mini: the stage-(a) CPU model frozen, the 20 x 30 x 32
# background prompts of the random tiny CLIP learned (plumbing; see the stage-a CPU config).
# Scaled from semples-b_deit-s16-weaktr_1xb128-60e_voc12aug: batch 128 -> 16 (twice stage
# a's, as officially), lr 0.1 x 16 / 512 = 3.125e-3 (the official linear scaling), 60 epochs
# -> 4 epochs of 104 images = 26 iterations; lambda2 0.02, maps eps 1e-4, RandomResizedCrop +
# flip only (unchanged).
# Run after stage a:
#   python3 tools/train.py THIS --work-dir work_dirs/semples-b_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --cfg-options load_from=work_dirs/semples-a_coco-mini/iter_52.pth
_base_ = ['./semples-a_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py']
batch_size = 16
max_iters = 26
base_lr = 0.1
load_from = 'work_dirs/semples-a_coco-mini/iter_52.pth'
model = dict(
    backbone=dict(frozen=True, init_cfg=None),
    cam_heads=dict(weaktr=dict(frozen=True)),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='prompt',
            clip={{_base_.tiny_clip}},
            dataset='voc',
            lambda2=0.02,
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
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
optim_wrapper = dict(optimizer=dict(lr=base_lr * batch_size / 512))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
