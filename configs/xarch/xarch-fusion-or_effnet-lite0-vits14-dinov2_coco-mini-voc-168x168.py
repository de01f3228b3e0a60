# The survey's baseline for cross-architecture WSSS (the Precision-aware ensemble's AND / OR):
# the CAMs of a CNN and a ViT trained SEPARATELY (the two single-branch xarch configs), fused
# pixel-wise (or: element-wise max of the normalised CAMs) and scored as seeds on the
# training images (CAMMetric sweep). Test-only: no checkpoint argument, the members load theirs.
#   python3 tools/test.py \
#       configs/xarch/xarch-fusion-or_effnet-lite0-vits14-dinov2_coco-mini-voc-168x168.py \
#       --cfg-options model.members.0.checkpoint=<cnn iter_200.pth> \
#                     model.members.1.checkpoint=<vit iter_200.pth>
_base_ = ['./xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py']
cnn_ckpt = 'work_dirs/xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168/iter_200.pth'
vit_ckpt = 'work_dirs/xarch-vit-only_vits14-dinov2_1xb2-200i_coco-mini-voc-168x168/iter_200.pth'
model = dict(
    _delete_=True,
    type='CAMEnsemble',
    members=[
        dict(
            config='configs/xarch/xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py',
            checkpoint=cnn_ckpt),
        dict(
            config='configs/xarch/xarch-vit-only_vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py',
            checkpoint=vit_ckpt),
    ],
    fusion='or',
    bg_thr=0.5)
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')

# No recipe: the fusion scores two runs trained by their own configs (see its header); the
# CNN-only recipe it would inherit would train the CNN alone.
wsss_recipe = None
