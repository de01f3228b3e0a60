# FMA step 2 (segmentation prompt task) on MS-COCO 2014 train (configs/COCO/seg/cfg.py):
# unlike VOC, COCO keeps the cls-task prompt layout (class token at the END, one SHARED
# context ~ N(0, 0.015)) and the 23 real bg names; CAMIntensityLoss on the coarse seeds,
# cls loss off; 75000 iterations, a checkpoint every 7500; the official fine seeds come
# from iteration 45000 WITHOUT CAA (the raw Grad-CAM) and SAMS with bg power 1
# (configs/COCO/seg/infer/45k/ann):
#   python3 tools/train.py THIS --work-dir work_dirs/fma-seg_coco14
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-seg_coco14/iter_45000.pth \
#       --out-dir work_dirs/fma-seg_coco14/seeds
# (the official loader splits each batch of 16 into 8 sub-iterations, a memory measure that
# does not change the gradient)
_base_ = ['./fma-cls_vit-b16_1xb16-20500i_coco14-224x224.py']
# ---- frequently modified ----
data_root = 'data/coco14'
coarse_seed_dir = 'work_dirs/fma-cls_coco14/seeds'
warmup_iters = 500
max_iters = 75000
warmup_end_factor = 1.0
fma_segments_dir = 'work_dirs/fma_sams/coco14_vit-h'
crop_size = (224, 224)
# -----------------------------
model = dict(
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
    cam_type='gradcam')

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
        label_space='coco',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=coarse_seed_dir,
        pipeline=train_pipeline))
pseudo_label_cfg = dict(
    bg_thr=0.5, refiners=[dict(type='FMASAMSRefiner', mask_dir=fma_segments_dir, bg_pow=1.0)])
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
