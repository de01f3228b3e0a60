# CLIP-ES on coco-mini in the VOC label space (CPU-sized real-image check).
# Build data/coco-mini-voc first (see configs/_base_/datasets/coco-mini_voc.py), then
#   python tools/generate_pseudo_labels.py \
#       configs/clip_es/clip-es_vit-b16_1xb1-trainfree_coco-mini-voc-ori.py --out-dir DIR
# Without real CLIP weights (plumbing check only, labels are meaningless):
#   ... --cfg-options model.clip_checkpoint=None
# The base pipeline resizes images to long side 320 (CPU budget); CAMs still come back
# at the original size. VOC prompts and box threshold 0.4 (images are COCO photos).
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    './_base_clip-es_vit-b16.py',
]
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
pseudo_label_dataloader = dict(num_workers=0, persistent_workers=False)

# tools/run_pipeline.py: CLIP-ES is training-free (no stage 1, no seeds sweep: its labels use
# the official fixed background, bg = (1 - max cam)^1, i.e. the config's bg_thr 0.5):
#   pseudo_labels  tools/generate_pseudo_labels.py THIS on the training images: Grad-CAM +
#                  CAA CAMs, DenseCRF, confidence ignore 0.95 (eval_cam_with_crf.py)
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
# It needs the real CLIP ViT-B/16 file (clip_checkpoint); with random weights
# (--cfg-options model.clip_checkpoint=None on each tool) it is a plumbing check only.
wsss_recipe = dict(
    stage1=None,
    seeds=None,
    pseudo_labels='this',
    bg_thr='config',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
