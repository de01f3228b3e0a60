# FMA step 2 (segmentation prompt task), CPU-sized, on coco-mini with the random tiny CLIP
# and SAM of the cls CPU config (plumbing, not a result): class-specific front prompts,
# empty bg names, CAMIntensityLoss on the coarse seeds of
# configs/fma/fma-cls_tiny-clip-random_1xb16-18i_coco-mini-voc-224x224.py, then CAA
# (box 0.5, at the CAM) + SAMS (0.7) fine seeds. Scaled as the cls config: 17000 its at
# batch 16 on 10,582 images = 25.7 epochs -> 25.7 epochs of the 104 images = 167 its,
# warm-up 500/17000 of it -> 5.
#   python3 tools/train.py THIS --work-dir work_dirs/fma-seg_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-seg_coco-mini/iter_167.pth \
#       --out-dir work_dirs/fma-seg_coco-mini/seeds --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./fma-cls_tiny-clip-random_1xb16-18i_coco-mini-voc-224x224.py']
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
coarse_seed_dir = 'work_dirs/fma-cls_coco-mini/seeds'
warmup_iters = 5
max_iters = 167
warmup_end_factor = 1.0
fma_segments_dir = 'work_dirs/fma_sams/coco-mini-voc_sam-tiny-random'
crop_size = (224, 224)
# -----------------------------
model = dict(
    bg_class_names=[''] * 25,
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
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
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
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_iters))

# tools/run_pipeline.py: FMA's whole chain (README "Pipeline and configs", steps 1-6), stage 2
# on the shared DeepLabV3+ config (configs/fma/deeplabv3plus_effnet-lite0_*-pl-fma-* is that
# config unchanged and was not measured):
#   sam          tools/s2c_segment_everything.py --preset fma on the cls config: SAM
#                quasi-superpixels with levels (seeded random tiny SAM), into this step's
#                folder (resumable); both SAMS refiners below read them
#   cls          tools/train.py fma-cls_*: the classification prompt task
#   coarse       its pseudo labels: CAA at the score + SAMS (bg pow 0.7), the config's bg_thr
#   coarse_eval  the coarse seeds scored (the README's 7.74)
#   stage1       tools/train.py THIS on the coarse seeds: the segmentation prompt task
#   pseudo_labels  the fine seeds (CAA at the CAM + SAMS), the config's bg_thr
#   label_eval (the README's 10.00), stage2, stage2_val
_fma_cls = 'configs/fma/fma-cls_tiny-clip-random_1xb16-18i_coco-mini-voc-224x224.py'
_fma_masks = {'pseudo_label_cfg.refiners.0.mask_dir': '{dir:sam}/masks'}
_fma_stage2 = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(steps=[
    dict(
        name='sam',
        kind='tool',
        script='tools/s2c_segment_everything.py',
        args=[
            '{config}', '--preset', 'fma', '--data-root', '{data_root}', '--out-dir', '{out}/masks'
        ],
        config=_fma_cls),
    dict(name='cls', kind='train', config=_fma_cls),
    dict(name='coarse', kind='labels', config=_fma_cls, checkpoint='cls', cfg_options=_fma_masks),
    dict(name='coarse_eval', kind='eval_labels', config=_fma_cls, labels='coarse'),
    dict(name='stage1', kind='train', config='this', labels='coarse'),
    dict(
        name='pseudo_labels',
        kind='labels',
        config='this',
        checkpoint='stage1',
        cfg_options=_fma_masks),
    dict(name='label_eval', kind='eval_labels', config='this', labels='pseudo_labels'),
    dict(name='stage2', kind='train', config=_fma_stage2, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_fma_stage2, checkpoint='stage2', role='final'),
])
