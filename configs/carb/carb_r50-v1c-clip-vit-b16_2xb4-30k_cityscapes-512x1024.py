# CARB on Cityscapes, the paper's recipe (official configs/carb/cityscapes_carb_dual.py):
# ResNet-50-V1c + ASPP-v2 + frozen CLIP ViT-B/16 text classifier, crop 512x1024, batch
# 4 per GPU x 2 GPUs, SGD lr 0.005 momentum 0.9 wd 5e-4, poly 0.9 to 1e-4, 30k iterations,
# warm-up (plain CLIP masks) for 16k, then consistency-aware region balancing. Test on val
# at (2048, 1024), whole image, single scale. Seed 589482026 as the official run (which also
# sets deterministic=True).
# Run: bash tools/dist_train.sh \
#   configs/carb/carb_r50-v1c-clip-vit-b16_2xb4-30k_cityscapes-512x1024.py 2
_base_ = [
    '../_base_/datasets/cityscapes_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/models/carb_r50-v1c.py',
]
max_iters = 30000
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0005))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=1e-4, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=2))
randomness = dict(seed=589482026, deterministic=True)
