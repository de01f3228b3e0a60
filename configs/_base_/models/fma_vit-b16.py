# FMA (Yang & Gong, WACV'24) model primitive: frozen OpenAI CLIP ViT-B/16 (open_clip,
# QuickGELU) + CoOp prompts over CLIP-ES's 20 VOC fg names and 25 bg names, in the
# CLASSIFICATION-task setting (configs/VOC/cls/cfg.py <- configs/clip_cam/cl_loss,调基参):
# CoOp '{ctx} {name}.', 16 shared context vectors ~ N(0, 0.015), MultiLabelCLLoss on the
# fg logits, CAM loss off; CAA for the coarse seeds: last 8 layers, 1 Sinkhorn round,
# matrix power 2, box threshold 0.4, applied at the score. Dataset configs add the data,
# the seg-task configs override the prompt / losses / CAA.
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
# OpenAI CLIP normalisation (0-255 units)
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
model = dict(
    type='FMAPromptCAM',
    data_preprocessor=data_preprocessor,
    clip=dict(type='OpenCLIP', arch='ViT-B-16', quick_gelu=True),
    clip_checkpoint=clip_checkpoint,
    class_names=[
        'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
        'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
        'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen'
    ],
    bg_class_names=[
        'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river',
        'sea', 'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean',
        'road', 'rock', 'street', 'valley', 'bridge', 'sign'
    ],
    # CoOp, class token at the end, shared context (csc=False), N(0, 0.015) init
    prompt=dict(
        template='{ctx} {name}.',
        n_ctx=16,
        class_specific_ctx=False,
        ctx_init='normal',
        ctx_std=0.015,
        seed=0),
    cls_loss=dict(type='MultiLabelCLLoss', gamma=None, reduce='pos_mean', loss_weight=1.0),
    cam_loss=None,  # the cls task's CAM loss weight is 0
    sm_fg_exist=True,  # softmax over [present fg + all bg]
    scales=(1.0, ),
    cam_type='caa',
    attn_layers=8,
    sinkhorn_iters=1,
    caa_power=2,
    box_thr=0.4,
    caa_at='score',
    bg_thr=0.5,
    input_resize='pil_bicubic')

# SAM quasi-superpixels (FMA's SamAuto, pattern l2_nmsf_s1_rsw3) on SAM vit_h; written
# once by  python3 tools/s2c_segment_everything.py CONFIG --preset fma
fma_sam = dict(
    type='FMASegmentAnything',
    arch='vit_h',
    checkpoint='checkpoints/sam/sam_vit_h_4b8939.pth',
    amg_cfg=dict(
        points_per_side=32,
        points_per_batch=64,
        pred_iou_thresh=0.86,
        stability_score_thresh=0.92,
        box_nms_thresh=0.7,
        crop_n_layers=1,
        crop_nms_thresh=0.7,
        crop_overlap_ratio=512 / 1500,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=100,
        score_thresh_offset=(0.0, 0.0, 0.1),
        score_nms_offset=(0.0, 0.0, 1.0),
        stability_score_bias=(0.0, 0.0, 0.0),
        rock_sand_water_thresh=0.3,
        rock_sand_water_chunk_size=50))
fma_segments_dir = 'work_dirs/fma_sams/voc12aug_vit-h'

# Seeds = SAMS on the CAA maps: one label per SAM mask, bg = (1 - max)^0.7
pseudo_label_cfg = dict(
    bg_thr=0.5, refiners=[dict(type='FMASAMSRefiner', mask_dir=fma_segments_dir, bg_pow=0.7)])

# SGD momentum 0.9, lr 1e-3, wd 5e-4 on the prompt context only (CLIP is frozen)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
