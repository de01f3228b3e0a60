# RS-TextWS-Seg stage 2, CPU-sized, on coco-mini (VOC label space): CLIP-ES CAMs on the stage-1
# tiny random CLIP (rs-textws-seg_tiny-clip-random_1xb8-100i_coco-mini-voc-224x224.py), whose
# checkpoint carries the whole tiny CLIP (its base weights are random, not a file).
# Seeds on the 104 TRAIN images (CAMMetric sweep; images at the base's long side 320, CAMs back
# at the original size):
#   python3 tools/test.py configs/rs_textws_seg/<this file> \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
# Pseudo labels for stage 3 (DenseCRF + confidence ignore):
#   python3 tools/generate_pseudo_labels.py configs/rs_textws_seg/<this file> \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --out-dir work_dirs/rs-textws-seg_coco-mini/pseudo_labels
# A random CLIP's seeds are not a result.
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rs-textws-seg-cam_vit-b16.py',
]
data_root = 'data/coco-mini-voc'
# = mmwsss.models.foundation.TINY_CLIP_CFG (as stage 1)
tiny_clip = dict(
    _delete_=True,
    type='OpenCLIP',
    quick_gelu=True,
    arch=dict(
        embed_dim=32,
        vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)))
voc_names = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor'
]
model = dict(
    clip=tiny_clip,
    clip_checkpoint=None,
    finetuned=dict(checkpoint='work_dirs/rs-textws-seg_coco-mini/iter_100.pth'),
    class_names=voc_names,
    # CLIP-ES's VOC background set (coco-mini is in the VOC label space)
    bg_class_names=[
        'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river',
        'sea', 'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean',
        'road', 'rock', 'street', 'valley', 'bridge', 'sign'
    ],
    # the tiny CLIP has 3 blocks: CAA averages the attention of all of them (ViT-B/16: 8 of 12)
    attn_layers=3)
_data = dict(data_root=data_root)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_data)
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(ann_file='ImageSets/Segmentation/train.txt', **_data))
test_evaluator = dict(_delete_=True, type='CAMMetric')
pseudo_label_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_data)
