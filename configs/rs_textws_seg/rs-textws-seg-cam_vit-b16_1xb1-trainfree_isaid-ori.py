# RS-TextWS-Seg stage 2 on iSAID: CLIP-ES CAMs on the stage-1 fine-tuned CLIP, at each patch's
# own size. Seeds (CAMMetric sweep on the TRAIN patches, masks for scoring only):
#   python tools/test.py configs/rs_textws_seg/rs-textws-seg-cam_vit-b16_1xb1-trainfree_isaid-ori.py
# Pseudo labels for stage 3 (DenseCRF + confidence ignore, CLIP-ES's chain):
#   python tools/generate_pseudo_labels.py \
#       configs/rs_textws_seg/rs-textws-seg-cam_vit-b16_1xb1-trainfree_isaid-ori.py \
#       --out-dir work_dirs/rs-textws-seg_isaid/pseudo_labels
# No checkpoint argument: the stage-1 tensors come from model.finetuned.checkpoint; the
# un-fine-tuned CLIP-ES baseline is --cfg-options model.finetuned.checkpoint=None.
_base_ = [
    '../_base_/datasets/isaid_custom.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rs-textws-seg-cam_vit-b16.py',
]
class_names = ('ship', 'storage tank', 'baseball diamond', 'tennis court', 'basketball court',
               'ground track field', 'bridge', 'large vehicle', 'small vehicle', 'helicopter',
               'swimming pool', 'roundabout', 'soccer ball field', 'plane', 'harbor')
# open choice: CLIP-ES's COCO background set (23 texts) without 'bridge', an iSAID class
bg_class_names = [
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea',
    'railway', 'railroad', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road', 'rock',
    'street', 'valley'
]
model = dict(
    class_names=list(class_names),
    bg_class_names=bg_class_names,
    finetuned=dict(checkpoint='work_dirs/rs-textws-seg_isaid/iter_10000.pth'))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# seeds: the training patches with their masks, threshold sweep
test_dataloader = {{_base_.pseudo_label_dataloader}}
test_evaluator = dict(type='CAMMetric')
pseudo_label_dataloader = dict(num_workers=2, persistent_workers=False)
