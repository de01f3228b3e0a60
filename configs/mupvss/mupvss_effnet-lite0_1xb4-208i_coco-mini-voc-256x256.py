# MuP-VSS, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL ImageNet
# EfficientNet-Lite0 weights. NOT FROM RELEASED CODE (reference methods-prototype.md §8). The
# VOC config's recipe (configs/_base_/models/mupvss_resnet38d.py: head, losses, temperatures,
# weights, bank, optimiser) except what a 2-core CPU forces, scaled as the SEAM CPU config
# (configs/seam/seam_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py) scales the same WR38
# PSA-family recipe:
#   backbone  ResNet-38, OS 8, conv6 4096  -> EfficientNet-Lite0, output stride 16 IRN-style (the
#             stride-2 stage 4 set to stride 1, no dilation; the CAM baseline's setting), the
#             1280-ch head conv (the baseline's CAM feature)
#   frozen    conv1a, b2* + all BN         -> stem + stage1 + all BN (running stats via
#             norm_eval, affine via lr_mult 0)
#   crop      448, long side 448-768       -> 256, long side 256-439 (x 256 / 448)
#   batch     8                            -> 4
#   schedule  8 epochs of train_aug        -> 8 epochs of the 104 images at batch 4, drop_last:
#             104 // 4 * 8 = 208 iterations; lr 0.01, poly 0.9, head x10 unchanged
#   P2P start one epoch (1322 iterations)  -> one epoch (26 iterations)
#   eval      CAM seeds on coco-mini train, IRN-style multi-scale readout at stride 16,
#             threshold sweep (mupvss-seeds_effnet-lite0_...py)
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/mupvss_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/mupvss_resnet38d.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (256, 256)
batch_size = 4
max_iters = 104 // 4 * 8
p2p_start = 104 // 4
# -----------------------------
model = dict(
    data_preprocessor=dict(
        mean=[127.0, 127.0, 127.0],  # the converted TF EfficientNet-Lite weights
        std=[128.0, 128.0, 128.0],
        size=crop_size),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(8, ),
        strides=(1, 2, 2, 2, 1, 1, 1),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(cam=dict(in_channels=1280)),
    test_cfg=dict(cam=dict(_delete_=True, preset='irn', bg_thr=0.2)))
# the base's terms (a list is replaced whole), P2P switched on after one epoch of this schedule
num_fg_classes = 20
embed_dim = 256
tau = 0.1
model['loss_terms'] = [
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
]
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'cam_heads': dict(lr_mult=10.0, decay_mult=1.0),
            '.bn.': dict(lr_mult=0.0, decay_mult=0.0)  # BN affine frozen, as ResNet-38's
        }))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=256, max_long=439),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmpretrain.ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Pad', size=crop_size, pad_val=dict(img=(127, 127, 127), seg=255)),  # the mean
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline, **_data))
pseudo_label_dataloader = dict(dataset=_data)
# no decode head: tools/test.py on this config scores the CAMs on val at bg_thr 0.2; the seeds
# config scores them on the training images (threshold sweep)
test_dataloader = dict(dataset=_data)
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# tools/run_pipeline.py / tools/benchmark.py: the chain behind the README's measured numbers.
#   stage1         tools/train.py on this config (reuse work_dirs/mupvss_coco-mini/iter_208.pth)
#   seeds          mupvss-seeds: the search maps on the training images, CAMMetric threshold
#                  sweep 0.05-0.95
#   pseudo_labels  this config's CAMs on the training images (pseudo_label_dataloader) with a
#                  background threshold, at the sweep's best bg_thr (the CAM-baseline protocol)
#   stage2         the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
# Paths, not 'this': mupvss-seeds inherits this recipe.
_this = 'configs/mupvss/mupvss_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
_seeds = 'configs/mupvss/mupvss-seeds_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config=_this),
    dict(name='seeds', kind='test', config=_seeds, checkpoint='stage1', role='seeds'),
    dict(name='pseudo_labels', kind='labels', config=_this, checkpoint='stage1', bg_thr='seeds'),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_this),
    dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
])
