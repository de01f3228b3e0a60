# FMA stage 2 on VOC 2012: plain mmseg DeepLabV3+ R101 (its own 40k recipe, unchanged)
# trained on FMA's fine seeds, written by
#   python3 tools/generate_pseudo_labels.py \
#       configs/fma/fma-seg_vit-b16_1xb16-17k_voc12aug-pl-fma-cls-224x224.py \
#       work_dirs/fma-seg_voc12aug/iter_17000.pth --out-dir work_dirs/fma-seg_voc12aug/seeds
# The paper trains Mask2Former Swin-L (IN-21k) for 80k iterations at batch 4 (VOC val 83.1);
# mmseg's Mask2Former needs mmdet, which is not installed here, so this stage uses
# DeepLabV3+ (see configs/fma/README.md). Validation on the real VOC val masks.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py'
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'work_dirs/fma-seg_voc12aug/seeds'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmwsss.PseudoLabelDataset',
        label_space='voc',
        data_root=data_root,
        ann_file='ImageSets/Segmentation/train_aug.txt',
        data_prefix=dict(img_path='JPEGImages'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline={{_base_.train_pipeline}}))
