# CLIP-ES (Lin et al., CVPR'23): training-free CAMs from frozen OpenAI CLIP ViT-B/16,
# then dense CRF (+ confidence-guided ignore) as the pseudo-label refine chain.
#   python tools/generate_pseudo_labels.py configs/clip_es/<this>.py --out-dir DIR
# No checkpoint of ours: the CLIP weights are read from `model.clip_checkpoint`
# (OpenAI's TorchScript ViT-B-16.pt or an open_clip state dict; nothing is downloaded).
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    './_base_clip-es_vit-b16.py',
]
# training-free: no train loop; val/test evaluate pred_sem_seg (CAM + bg_thr)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# pseudo_label_dataloader of the base: VOC train_aug, original size, batch 1.
# The paper's seed numbers are on VOC train (1,464 images):
#   --cfg-options pseudo_label_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt
