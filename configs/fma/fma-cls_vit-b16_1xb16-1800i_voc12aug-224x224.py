# FMA step 1, the CLASSIFICATION prompt task, on VOC 2012 train_aug (configs/VOC/cls/cfg.py):
# frozen CLIP ViT-B/16, CoOp shared context (16 x N(0, 0.015)), MultiLabelCLLoss; 1 GPU x 16
# crops of 224 (long side 288-480, flip, colour jitter); 1800 iterations = 500 warm-up
# (linear from 1e-5) + 1300 cosine to 0; SGD 0.9, lr 1e-3, wd 5e-4.
# Then the coarse seeds: CAA (1 Sinkhorn round, power 2, box 0.4, at the score) + SAMS
# (bg power 0.7) on the SAM vit_h quasi-superpixels:
#   python3 tools/s2c_segment_everything.py THIS --preset fma            # SAM, once
#   python3 tools/train.py THIS --work-dir work_dirs/fma-cls_voc12aug
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-cls_voc12aug/iter_1800.pth \
#       --out-dir work_dirs/fma-cls_voc12aug/seeds                         # coarse seeds
#   python3 tools/eval_pseudo_labels.py work_dirs/fma-cls_voc12aug/seeds \
#       data/VOCdevkit/VOC2012/SegmentationClassAug --num-classes 21
# CLIP / SAM weights: `clip_checkpoint` (OpenAI ViT-B-16.pt or an open_clip state dict) and
# fma_sam.checkpoint; a missing file fails naming it.
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/fma_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (224, 224)
batch_size = 16
warmup_iters = 500
max_iters = 500 + 1300
# official code: LinearLR(start_factor=1e-5 / lr, end_factor=start_factor), i.e. the lr
# stays at 1e-5 for the 500 warm-up iterations; set warmup_end_factor = 0.01 for that
warmup_end_factor = 1.0
fma_segments_dir = 'work_dirs/fma_sams/voc12aug_vit-h'
# -----------------------------
model = dict(data_preprocessor=dict(size=crop_size))

# VOC2Auger: rand_range long side 288-480, random crop 224, mirror, colour jitter
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=288, max_long=480),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=_data)
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=_data)
pseudo_label_cfg = dict(
    bg_thr=0.5, refiners=[dict(type='FMASAMSRefiner', mask_dir=fma_segments_dir, bg_pow=0.7)])

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-5 / 1e-3,
        end_factor=warmup_end_factor,
        begin=0,
        end=warmup_iters,
        by_epoch=False),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min=0.0,
        begin=warmup_iters,
        end=max_iters,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    # official: a checkpoint every max(max_iter // 10, 1000) iterations
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max(max_iters // 10, 1000)))
randomness = dict(seed=0)
