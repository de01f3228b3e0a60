# ToCo (Ru et al., CVPR'23) on the single-stage chassis: one branch (ViT-B/16 tokens, GMP CAM
# head on the final tokens, aux CAM head on the PRE-norm tokens of block -3, LargeFOV decoder),
# three label sources and six loss terms. Reference: rulixiang/ToCo
# scripts/dist_train_voc_seg_neg.py. Dataset / schedule configs set crop size, iterations and
# the term onsets (VOC: seg + reg after iteration 2000).
num_fg_classes = 20
embed_dim = 768
toco_crop_size = (448, 448)
local_crop_size = 96
bkg_thr, high_thr, low_thr = 0.5, 0.7, 0.25  # ToCo's bkg_thre, high_thre, low_thre
seg_start = 2000  # `if n_iter <= 2000: w_seg = w_reg = 0`
cam_ms = dict(preset='toco')  # multi_scale_cam2, scales (1.0, 0.5, 1.5)
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'  # tools/model_converters/vit_timm.py

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=toco_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        # global_view1 on the main image (ToCo applies it to the padded crop)
        main_view=dict(type='PhotometricView', flip_prob=0.5, blur_prob=1.0, solarize_prob=0.0),
        flip_valid_mask=True,  # False = ToCo's unflipped img_box
        views=dict(
            # global_view2: the pipeline's RandomResizedCropView of the original image
            global2=dict(
                source='view2',
                aug=dict(type='PhotometricView', flip_prob=0.5, blur_prob=0.1, solarize_prob=0.2)),
            # local_view: the 96x96 crops are cut from it; 'main' keeps it aligned with the
            # main view whose CAM places the crops ('own' = ToCo's independent flip)
            local=dict(
                source='img',
                flip='main',
                aug=dict(type='PhotometricView', flip_prob=0.5, blur_prob=0.5,
                         solarize_prob=0.0)))),
    backbone=dict(
        type='TokenViT',
        vit=dict(type='timm', model_name='vit_base_patch16_224'),
        out_blocks=(-1, ),
        out_norm=True,
        extra_tokens=dict(aux=dict(block=-3, norm=False)),
        with_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        main=dict(
            type='CAMHead',
            in_channels=embed_dim,
            in_index=0,
            num_classes=num_fg_classes,
            pool='gmp'),
        aux=dict(
            type='CAMHead',
            in_channels=embed_dim,
            num_classes=num_fg_classes,
            pool='gmp',
            source='aux')),
    decode_head=dict(
        type='LargeFOVHead',
        in_channels=embed_dim,
        in_index=0,
        channels=512,
        dilation=5,
        num_classes=num_fg_classes + 1,
        align_corners=False,
        # unused by ToCo's SegTerm (loss='bg_fg'); used with loss='head'
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)),
    label_sources=dict(
        # PTC: multi-scale aux CAM on the token grid, fg > 0.7, ignore (0.25, 0.7], bg <= 0.25
        aff=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, high_thr)),
        # seg: multi-scale final CAM refined by PAR with the two bg scores (0.7, 0.25)
        seg=dict(
            type='CAMLabelSource',
            cam='main',
            multi_scale=cam_ms,
            refiner=dict(
                type='PARRefiner',
                bg_high=high_thr,
                bg_low=low_thr,
                num_iter=10,
                dilations=(1, 2, 4, 8, 12, 24)))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main', weight=1.0),
        dict(type='ClsTerm', name='cls_aux', cam='aux', weight=1.0),
        dict(type='PTCTerm', name='ptc', label='aff', weight=0.2),
        dict(
            type='CTCTerm',
            name='ctc',
            in_dim=embed_dim,
            out_dim=1024,
            momentum=0.9,
            temp=0.5,
            roi_cam='aux',
            multi_scale=cam_ms,
            roi_thr=(low_thr, high_thr),
            crop_num=8,
            crop_size=local_crop_size,
            weight=0.5),
        dict(
            type='SegTerm',
            name='seg',
            label='seg',
            loss='bg_fg',
            weight=0.1,
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
        dict(
            type='EnergyTerm',
            name='reg',
            label='seg',
            weight=0.05,
            loss=dict(weight=1e-7, sigma_rgb=15, sigma_xy=100, scale_factor=0.5),
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='seg',
        # segmentation: scales (1.0, 1.5, 1.25), flip summed, scales max-merged, then CRF
        seg_scales=(1.0, 1.5, 1.25),
        seg_flip=True,
        seg_flip_merge='sum',
        seg_scale_merge='max',
        crf=dict(type='DenseCRF', preset='toco_seg', restrict_to_labels=False),
        # CAM evaluation (predict_source='cam'): bkg 0.5 over scales (1, 0.5, 1.5)
        cam_head='main',
        cam=dict(preset='toco', bg_thr=bkg_thr)))

# ToCo's PolyWarmupAdamW: AdamW 6e-5 (encoder and its norms x1; CAM heads, projection head and
# decoder x10), wd 0.01, betas (0.9, 0.999); warm-up 1500 from 1e-6 * lr, poly 0.9 from 0.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'cam_heads': dict(lr_mult=10.0),
            'loss_terms': dict(lr_mult=10.0),
            'decode_head': dict(lr_mult=10.0)
        }))
