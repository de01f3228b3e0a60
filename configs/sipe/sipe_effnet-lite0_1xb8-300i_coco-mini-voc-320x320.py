# SIPE, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL ImageNet
# EfficientNet-Lite0 weights. The recipe of the coco-mini CAM baseline
# (configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py) with SIPE's head
# and terms, so that the two differ by SIPE only:
#   backbone  ResNet-50 OS 16             -> EfficientNet-Lite0, OS 16 IRN-style (the stride-2
#             stage 6 set to stride 1, no dilation), all BN frozen
#   sides     x1/x2/x3/x4 (256/512/1024/   -> stage2 (24 ch, stride 4) / stage3 (40, stride 8) /
#             2048; strides 4/8/16/16)        stage5 (112, stride 16: the last stage at the
#             native stride 16, as layer3) / head conv (1280, the classifier's input, as x4);
#             side outputs 128/128/256/256 unchanged; hie_fea on the stage-5 grid
#   frozen    stem..layer2 (x2.detach())  -> stem..stage3 (stride <= 8, as the CAM baseline)
#   crop      512, long side 320-640      -> 320, long side 200-400 (the dataset base)
#   batch     16, lr 0.1                  -> 8, lr 0.05 (linear), new layers x10, wd 1e-4
#   schedule  5 epochs of train_aug       -> 300 iterations (the CAM baseline's; 5 epochs of
#             104 images would be 65 steps), poly 0.9, grad clip 1
#             (a step costs ~1.15x a CAM-baseline step, measured side by side in one process:
#             ~5.5 min for the 300 iterations on 2 idle cores)
#   classifier init N(0, 0.01)            -> the ImageNet classifier rows mapped to the VOC
#             classes, as the CAM baseline (transfer, not SIPE: see configs/cam/README.md)
#   eval      IS-CAM (4 scales x flip, argmax with its bg channel) on coco-mini train:
#             sipe-seeds_effnet-lite0_...py
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/sipe_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/sipe_r50.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
crop_size = (320, 320)
batch_size = 8
max_iters = 300
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
        out_indices=(2, 3, 5, 8),
        strides=(1, 2, 2, 2, 1, 1, 1),
        frozen_stages=3,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        sipe=dict(
            in_channels=1280,
            side_in_channels=(24, 40, 112, 1280),
            init_cfg=[
                dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
                dict(type='ClassifierTransfer', checkpoint=pretrained, class_map='voc'),
            ])))
optim_wrapper = dict(optimizer=dict(lr=0.05))
_data = dict(data_root=data_root)
train_dataloader = dict(batch_size=batch_size, num_workers=2, drop_last=True, dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
# tools/test.py on this config scores the IS-CAM seeds on the training images
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
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

# tools/run_pipeline.py / tools/benchmark.py: SIPE's chain (README "How to run on coco-mini").
#   stage1         tools/train.py on this config (reuse work_dirs/q9/sipe/iter_300.pth)
#   seeds          sipe-seeds: IS-CAM (4 scales x flip) argmax with the learned bg channel,
#                  no threshold sweep
#   ir_labels      SIPE's cam2ir.py: IR labels from the IS-CAM and its bg channel
#   irn            the coco-mini IRN (configs/irn) trained on them (--pseudo-label-dir)
#   pseudo_labels  SIPE's make_seg_labels.py: IRN walk of IS-CAM ** 1.5, bg channel included
#   stage2         the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
# Paths, not 'this': the sipe-seeds / -irlabels / -rw configs inherit this recipe.
_this = 'configs/sipe/sipe_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_seeds = 'configs/sipe/sipe-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_ir_labels = 'configs/sipe/sipe-irlabels_effnet-lite0_coco-mini-voc.py'
_rw = 'configs/sipe/sipe-rw_effnet-lite0_coco-mini-voc.py'
_irn = 'configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config=_this),
    dict(name='seeds', kind='test', config=_seeds, checkpoint='stage1', role='seeds'),
    dict(name='ir_labels', kind='labels', config=_ir_labels, checkpoint='stage1'),
    dict(name='irn', kind='train', config=_irn, labels='ir_labels'),
    dict(
        name='pseudo_labels',
        kind='labels',
        config=_rw,
        checkpoint='stage1',
        cfg_options={'pseudo_label_cfg.refiners.1.model.checkpoint': '{checkpoint:irn}'}),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_rw),
    dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
])
