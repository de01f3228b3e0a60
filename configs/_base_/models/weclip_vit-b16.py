# WeCLIP (Zhang et al., "Frozen CLIP: a strong backbone for WSSS", CVPR'24) on the
# single-stage chassis. Reference: zbf1991/WeCLIP (folder WeCLIP/, the CVPR version),
# WeCLIP_model/model_attn_aff_voc.py, clip/clip_tool.py, scripts/dist_clip_voc.py.
#   branch 'net'   frozen OpenAI CLIP ViT-B/16 (open_clip, QuickGELU): tokens + attention of
#                  blocks 0..10 (FrozenCLIPBackbone) -> WeCLIPHead (11 MLPs, fusion conv,
#                  3-block transformer, affinity sigmoid(F^T F))
#   label 'seg'    online CLIP-ES CAMs on the crop, RFM after iteration 15000, PAR, argmax
#   terms          seg: bg/fg-balanced CE (weight 1); aff: decoder affinity (weight 0.1)
# VOC prompts and box threshold here; the COCO config overrides them.
weclip_num_classes = 21  # classes incl. background (the dataset base's num_classes)
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'  # OpenAI TorchScript or a state dict
weclip_crop_size = (320, 320)
imagenet_mean = [123.675, 116.28, 103.53]
imagenet_std = [58.395, 57.12, 57.375]
clip_mean = [122.7709383, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]
voc_names = [
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
    'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen'
]
voc_bg_names = [
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea',
    'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road',
    'rock', 'street', 'valley', 'bridge', 'sign'
]
clip_cfg = dict(type='OpenCLIP', arch='ViT-B-16', quick_gelu=True, checkpoint=clip_checkpoint)

model = dict(
    type='SingleStageWSSS',
    # WeCLIP's normalize_img: ImageNet mean / std for the decoder and PAR; crops padded with
    # black (random_crop(mean_rgb=[0, 0, 0]) before normalisation); no colour jitter
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=imagenet_mean,
        std=imagenet_std,
        bgr_to_rgb=True,
        size=weclip_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=weclip_num_classes - 1),
    branches=dict(
        net=dict(
            # Paper intent (default): the frozen CLIP sees CLIP-normalised pixels.
            # Official quirk: it sees the ImageNet-normalised input (the CLIP line of
            # normalize is commented out); reproduce it with
            #   backbone=dict(_delete_=True, type='FrozenCLIPBackbone', clip=clip_cfg)
            backbone=dict(
                type='Renormalize',
                backbone=dict(type='FrozenCLIPBackbone', clip=clip_cfg),
                src_mean=imagenet_mean,
                src_std=imagenet_std,
                mean=clip_mean,
                std=clip_std),
            frozen=True,
            decode_head=dict(
                type='WeCLIPHead',
                in_channels=768,
                channels=256,
                num_classes=weclip_num_classes,
                num_layers=11,
                trans_layers=3,
                trans_heads=8,
                fuse_dropout=0.1,
                align_corners=False,
                # unused by SegTerm(loss='bg_fg'); kept for loss='head'
                loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)))),
    label_sources=dict(
        seg=dict(
            type='WeCLIPLabelSource',
            branch='net',
            class_names=voc_names,
            bg_class_names=voc_bg_names,
            templates=['a clean origami {}.'],
            box_thr=0.4,  # COCO: 0.7
            caa_layers=8,
            rfm_layers=6,  # COCO: 10
            rfm_start=15000,  # `self.iter_num > 15000`
            # official counter also counts validation forwards: RFM from iteration 9144 on VOC
            #   rfm_onset_val=dict(interval=2000, num_images=1464)
            rfm_onset_val=None,
            rfm_distance='signed',
            sinkhorn_iters=3,
            bg_power=1.0,
            refiner=dict(
                type='PARRefiner',
                mode='scores',
                num_iter=20,
                dilations=(1, 2, 4, 8, 12, 24),
                down_scale=1,
                img_norm='imagenet',
                bg_power=1.0),
            # official quirk: labels='gt_mask', gt_mask_dir='<root>/SegmentationClassAug'
            labels='img_labels',
            ignore_padding=False)),
    loss_terms=[
        dict(type='SegTerm', name='seg', branch='net', label='seg', loss='bg_fg', weight=1.0),
        dict(
            type='WeCLIPAffinityTerm',
            name='aff',
            branch='net',
            label='seg',
            radius=8,
            stride=16,
            weight=0.1),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='predictor',
        # test_msc_flip_voc.py: scales [1, 0.75] with flip, logits averaged
        predictor=dict(type='WeCLIPPredictor', scales=(1.0, 0.75), flip=True),
        # the published numbers (VOC val 76.4, COCO val 47.1) need the CRF that the official
        # test script has commented out: on by default here (test_cfg.crf=None turns it off)
        crf=dict(type='DenseCRF', preset='afa', restrict_to_labels=False)))

# WeCLIP's PolyWarmupAdamW: only the decoder is optimised (CLIP frozen), at 10 x 2e-4;
# wd 0.01, betas (0.9, 0.999); warm-up 50 iterations from 1e-6 * lr, poly power 1.0.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
