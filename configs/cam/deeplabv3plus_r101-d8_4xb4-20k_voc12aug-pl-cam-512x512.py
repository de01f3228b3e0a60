# Stage 2 of the CAM baseline on VOC12: mmseg's own DeepLabV3+ R101 recipe, unchanged,
# trained on the pseudo labels written by
#   python tools/generate_pseudo_labels.py configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py \
#       CKPT --out-dir work_dirs/cam_r50_voc12aug/pseudo_labels
# (the split of `pseudo_label_dataloader` must then be train_aug). Validation uses the
# real VOC12 val masks as in mmseg.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py'
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'work_dirs/cam_r50_voc12aug/pseudo_labels'

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
