# CLIP-ES model primitive (VOC prompts): OpenAI CLIP ViT-B/16 via open_clip, CAA
# refinement, DenseCRF refine chain. Dataset configs in this folder add the data.
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
# OpenAI CLIP normalisation (0-255 units); images enter at their original size and
# CLIPES resizes them to multiples of 16 as the official code does: PIL bicubic on the
# uint8 image (recovered from the normalised input), then normalised again.
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CLIPES',
    data_preprocessor=data_preprocessor,
    # pos_embed_fp16=True: round the positional embedding to fp16 as the official code
    # does even in float32 (only for bit-level comparison; ~1e-3 on the refined maps)
    clip=dict(type='OpenCLIP', arch='ViT-B-16', quick_gelu=True, pos_embed_fp16=False),
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
    templates=['a clean origami {}.'],
    scales=(1.0, ),  # official: single scale (flips computed, then discarded)
    cam_type='caa',  # 'gradcam' = the "Initial" row (58.6 on VOC train)
    attn_layers=8,  # attention of the last 8 blocks
    sinkhorn_iters=3,
    box_thr=0.4,  # VOC; COCO uses 0.7
    bg_thr=0.5,  # pred_sem_seg: bg = 1 - max cam  <=>  threshold 0.5
    input_resize='pil_bicubic')  # official; 'torch_bicubic' resizes the float tensor

# Pseudo labels (eval_cam_with_crf.py): bg = (1 - max cam)^1, DenseCRF(10 iterations,
# pos 1/3, bilateral 67/3/4), pixels with CRF confidence < 0.95 -> 255.
pseudo_label_cfg = dict(
    bg_thr=0.5,
    refiners=[
        # official eval_cam_with_crf.py: gaussian (1, 3), bilateral (67, 3, 4)
        dict(type='DenseCRF', preset='more_beco', bg_power=1),
        dict(type='ConfidenceIgnore', thr=0.95),
    ])
