# MuP-VSS on MS-COCO 2014 (80 classes, 82,081 train images) with ResNet-38 (WideResNet-38, the
# backbone of the published 46.6 val [secondary]). NOT FROM RELEASED CODE (reference
# methods-prototype.md §8). The schedule (open) is the VOC config's WR38 PSA-family recipe
# applied to COCO: batch 8, 8 epochs with drop_last = 82081 // 8 * 8 = 82080 iterations (the
# budget of ToCo's COCO run, 80k iterations at batch 8), crop 448, RandomResizeLong(448, 768),
# flip, colour jitter, SGD lr 0.01 wd 5e-4 poly 0.9; P2P after one epoch (10260 iterations);
# the PolyOptimizer quirk is `--cfg-options optim_wrapper.optimizer.momentum_quirk=True`.
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/mupvss_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco14'
crop_size = (448, 448)
batch_size = 8
max_iters = 82081 // 8 * 8
num_fg_classes = 80
embed_dim = 256
tau = 0.1
p2p_start = 82081 // 8
# -----------------------------
pad_bgr = (104, 116, 124)

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(cam=dict(num_classes=num_fg_classes)),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cam', weight=1.0),
        dict(
            type='MuPVSSCCPTerm',
            name='ccp',
            branch='net',
            cam='cam',
            tau=tau,
            anchors='present',
            negatives='all',
            weight=0.1),
        dict(
            type='MuPVSSCIPTerm',
            name='cip',
            branch='net',
            cam='cam',
            tau=tau,
            keys='bank',
            bank=dict(
                num_classes=num_fg_classes,
                dim=embed_dim,
                num_slots=1,
                update='momentum',
                momentum=0.9,
                batch_reduce='mean'),
            weight=0.1),
        dict(
            type='MuPVSSP2PTerm',
            name='p2p',
            branch='net',
            cam='cam',
            label='p2p',
            tau=tau,
            bg='masked_mean',
            weight=0.1,
            schedule=dict(type='StepOn', start=p2p_start, strict=False),
            skip_when_off=True),
    ])

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=448, max_long=768),
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2))
randomness = dict(seed=0)
