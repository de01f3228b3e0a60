# RS-TextWS-Seg stage 3 on iSAID: plain mmseg DeepLabV3+ R101-D8 (mmseg's iSAID recipe: crop
# 896, 80k iterations, 4 x 4 batch, SGD lr 0.01 poly) trained on the stage-2 pseudo labels
#   python tools/generate_pseudo_labels.py \
#       configs/rs_textws_seg/rs-textws-seg-cam_vit-b16_1xb1-trainfree_isaid-ori.py \
#       --out-dir work_dirs/rs-textws-seg_isaid/pseudo_labels
# and validated on the real iSAID val masks (mmseg's iSAIDDataset). The paper's segmentation
# network is not in the reference (open choice).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py', 'mmseg::_base_/datasets/isaid.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
data_root = 'data/iSAID'
pseudo_label_dir = 'work_dirs/rs-textws-seg_isaid/pseudo_labels'
crop_size = (896, 896)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(num_classes=16),
    auxiliary_head=dict(num_classes=16))
_classes = ('background', 'ship', 'storage tank', 'baseball diamond', 'tennis court',
            'basketball court', 'ground track field', 'bridge', 'large vehicle', 'small vehicle',
            'helicopter', 'swimming pool', 'roundabout', 'soccer ball field', 'plane', 'harbor')
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmwsss.PseudoLabelDataset',
        metainfo=dict(classes=_classes),
        data_root=data_root,
        img_suffix='.png',
        data_prefix=dict(img_path='img_dir/train'),
        pseudo_label_dir=pseudo_label_dir,
        pipeline={{_base_.train_pipeline}}))
