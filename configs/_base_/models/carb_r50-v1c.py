# CARB (Kim, Lee, Choe, Shim, AAAI'24) on the single-stage chassis. Official: k0u-id/CARB
# configs/_base_/models/carb.py + configs/carb/cityscapes_carb_dual.py (mmseg 0.x):
#   segmenter  ResNet-50-V1c (dilations 1,1,2,4; strides 1,2,1,1; output stride 8), SyncBN,
#              ASPP-v2 (3x3 dilations 6/12/18/24 summed, 512 channels) and the FROZEN CLIP
#              text embeddings of the 19 classes as the 1x1 classifier (CARBHead)
#   CLIP       ViT-B/16 (OpenAI), frozen, MaskCLIP value-path features of the training crop
#              (the "dual path": masks made online from the same ImageNet-normalised input)
#   labels     CARBCLIPLabelSource: argmax_c cos(f, t_c) * y_c, upsampled to the crop
#   loss       CARBTerm: crop + random 512x256 patch (x U[1, 2)) CLIP masks; after 16k
#              iterations the and/vit split with the queue-balanced coefficient
# Weights: the OpenAI ViT-B-16.pt (TorchScript or state dict, read by OpenCLIP; a missing
# file is an error naming it) and mmseg's open-mmlab://resnet50_v1c.
carb_num_classes = 19  # no background (the dataset base's num_classes is 19 too)
carb_crop_size = (512, 1024)
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
text_channels = 512
norm_cfg = dict(type='SyncBN', requires_grad=True)
carb_names = [
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
    'tree', 'grass', 'sky', 'pedestrian', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
    'bicycle'
]

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        # ImageNet statistics: the segmenter's AND the CLIP's input (CARB feeds CLIP the
        # ImageNet-normalised crop; CARBHead(clip_input='clip') re-normalises instead)
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=carb_crop_size,
        pad_val=0,
        seg_pad_val=255,
        num_classes=carb_num_classes),
    branches=dict(
        seg=dict(
            backbone=dict(
                type='mmseg.ResNetV1c',
                depth=50,
                num_stages=4,
                out_indices=(0, 1, 2, 3),
                dilations=(1, 1, 2, 4),
                strides=(1, 2, 1, 1),
                norm_cfg=norm_cfg,
                norm_eval=False,
                style='pytorch',
                contract_dilation=True,
                init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
            decode_head=dict(
                type='CARBHead',
                in_channels=2048,
                in_index=3,
                channels=text_channels,
                num_classes=carb_num_classes,
                dilations=(6, 12, 18, 24),
                class_names=carb_names,
                clip=dict(
                    type='OpenCLIP', arch='ViT-B-16', checkpoint=clip_checkpoint, quick_gelu=True),
                pos_interp='bicubic',
                clip_input='inputs',
                label_mask='multiply',
                norm_cfg=norm_cfg,
                align_corners=False,
                loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)))),
    label_sources=dict(clip=dict(type='CARBCLIPLabelSource', branch='seg')),
    loss_terms=[
        dict(
            type='CARBTerm',
            name='carb',
            branch='seg',
            label='clip',
            patch_size=(512, 256),
            resize_rate=1.0,
            resize_offset=1.0,
            warmup_iter=16000,
            adaptive=True,
            queue_size=5,
            coeff=1.0),
    ],
    test_cfg=dict(mode='whole'))
