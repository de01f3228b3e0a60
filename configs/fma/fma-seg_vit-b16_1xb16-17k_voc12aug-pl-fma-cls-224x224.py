# FMA step 2, the SEGMENTATION prompt task, on VOC 2012 train_aug (configs/VOC/seg/cfg.py):
# new CoOp prompts, class token in FRONT ('{name} {ctx}.'), class-specific contexts, empty
# bg names (25 x ''), supervised by the coarse seeds of the cls task through
# CAMIntensityLoss (l1, reduce 'all', fg / bg weights 1 / 1), classification loss off;
# 17000 iterations (the base schedule: 500 warm-up + cosine), otherwise as the cls task.
# Then the fine seeds: CAA (1 Sinkhorn round, power 2, box 0.5, at the CAM) + SAMS (0.7):
#   python3 tools/train.py THIS --work-dir work_dirs/fma-seg_voc12aug
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-seg_voc12aug/iter_17000.pth \
#       --out-dir work_dirs/fma-seg_voc12aug/seeds                         # fine seeds
# The coarse seeds must exist first (`coarse_seed_dir`, see the cls config).
_base_ = ['./fma-cls_vit-b16_1xb16-1800i_voc12aug-224x224.py']
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
coarse_seed_dir = 'work_dirs/fma-cls_voc12aug/seeds'
warmup_iters = 500
max_iters = 17000
warmup_end_factor = 1.0
fma_segments_dir = 'work_dirs/fma_sams/voc12aug_vit-h'
crop_size = (224, 224)
# -----------------------------
model = dict(
    bg_class_names=[''] * 25,
    # '·125初' reference context: std read as 0.0125 (the folder name 'std=·125';
    # the official run copies a stored random context instead of drawing one)
    prompt=dict(template='{name} {ctx}.', n_ctx=16, class_specific_ctx=True, ctx_std=0.0125),
    cls_loss=None,
    cam_loss=dict(
        _delete_=True,
        type='CAMIntensityLoss',
        loss_type='l1',
        reduce='all',
        detach_max=True,
        bg_thresh=0.0,
        fg_weight=1.0,
        bg_weight=1.0),
    box_thr=0.5,
    caa_at='cam')

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),  # the coarse seed as gt_sem_seg
    dict(type='RandomResizeLong', min_long=288, max_long=480),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        label_file='cls_labels.npy',
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=coarse_seed_dir,
        pipeline=train_pipeline))
pseudo_label_cfg = dict(
    bg_thr=0.5, refiners=[dict(type='FMASAMSRefiner', mask_dir=fma_segments_dir, bg_pow=0.7)])
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
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
default_hooks = dict(checkpoint=dict(interval=max(max_iters // 10, 1000)))
