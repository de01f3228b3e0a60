# FMA step 1 (classification prompt task), CPU-sized, on coco-mini (104 train images, VOC
# label space) with a RANDOM tiny CLIP (TINY_CLIP_CFG: 3 blocks, width 64, patch 16; no CLIP
# weights exist on this machine) and a RANDOM tiny SAM: a plumbing check of the whole
# method (SAM quasi-superpixels with levels + rock-sand-water, CoOp prompts,
# MultiLabelCLLoss, CAA, SAMS seeds); its mIoU is not a result. FMA's VOC recipe except:
#   CLIP      OpenAI ViT-B/16 (12 blocks)  -> TINY_CLIP_CFG, random (CAA averages the
#             attention of its 3 blocks: "last 8" of 3)
#   SAM       vit_h, FMA's l2_nmsf_s1_rsw3 -> 'tiny' (128 input), random; 4 x 4 points
#             (crop layer: 2 x 2), IoU / stability thresholds 0 and no box NMS (random
#             weights predict no confident mask and near-identical masks that NMS merges
#             into one: a single all-background SAMS segment); the image at long side 320
#             (5 s -> ~1.3 s an image); offsets, min area 100, crop layers, rock-sand-water
#             0.3 kept
#   schedule  1800 its at batch 16 on 10,582 images (2.7 epochs) -> the same 2.7 epochs of
#             the 104 images: 18 its, warm-up 500/1800 of it -> 5; crop 224, batch 16,
#             lr / momentum / wd unchanged
# Steps (SAM masks once, resumable; train; seeds; score):
#   python3 tools/s2c_segment_everything.py THIS --preset fma \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/train.py THIS --work-dir work_dirs/fma-cls_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/generate_pseudo_labels.py THIS work_dirs/fma-cls_coco-mini/iter_18.pth \
#       --out-dir work_dirs/fma-cls_coco-mini/seeds --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/eval_pseudo_labels.py work_dirs/fma-cls_coco-mini/seeds \
#       /tmp/mmwsss_cache/coco-mini-voc/SegmentationClass --num-classes 21 \
#       --split /tmp/mmwsss_cache/coco-mini-voc/ImageSets/Segmentation/train.txt
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/fma_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
crop_size = (224, 224)
batch_size = 16
warmup_iters = 5
max_iters = 18
warmup_end_factor = 1.0  # official code: 0.01 (constant 1e-5 warm-up)
fma_segments_dir = 'work_dirs/fma_sams/coco-mini-voc_sam-tiny-random'
# -----------------------------
# = mmwsss.models.foundation.TINY_CLIP_CFG
tiny_clip = dict(
    _delete_=True,
    embed_dim=32,
    vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))
model = dict(
    data_preprocessor=dict(size=crop_size),
    clip=dict(arch=tiny_clip, quick_gelu=True),
    clip_checkpoint=None)
# SAM sees the image at long side 320 (the pseudo-label pipeline's size; FMA: full size)
fma_sam_long_side = 320
fma_sam = dict(
    type='FMASegmentAnything',
    arch='tiny',
    checkpoint=None,
    device='cpu',
    amg_cfg=dict(
        points_per_side=4,
        points_per_batch=64,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
        crop_n_layers=1,
        crop_nms_thresh=1.0,
        crop_overlap_ratio=512 / 1500,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=100,
        score_thresh_offset=(0.0, 0.0, 0.1),
        score_nms_offset=(0.0, 0.0, 1.0),
        stability_score_bias=(0.0, 0.0, 0.0),
        rock_sand_water_thresh=0.3,
        rock_sand_water_chunk_size=50))

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
    batch_size=batch_size, num_workers=2, dataset=dict(pipeline=train_pipeline, **_data))
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
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
