# MoRe (Yang et al., AAAI'25) on the single-stage chassis: ToCo's branch (GMP CAM head on the
# final tokens, aux CAM head on the PRE-norm tokens of block -3, LargeFOV decoder) on a ViT-B/16
# with 24 class tokens (4 "regularise" tokens dropped at the output + 20 class tokens whose
# position rows come from the pretrained class row), GCR on the 20 class tokens, and the terms
# cls, cls_aux, attri, PTC, CLE, UNE, seg, reg. Reference: zwyang6/MoRe scripts/train_voc.py,
# model/model_mal.py, model/backbone/mat_vit.py, model/GCA.py. Dataset / schedule configs set
# crop size, iterations and the onsets (VOC: seg + reg after 2000, CLE/UNE masks switch from
# the aux CAM to the final CAM after 10000).
num_fg_classes = 20
num_class_tokens = num_fg_classes + 4  # --num_attri 24 (COCO 84)
embed_dim = 768
more_crop_size = (448, 448)
bkg_thr, high_thr, low_thr = 0.5, 0.7, 0.25  # --bkg_thre, --high_thre, --low_thre
seg_start = 2000  # `if n_iter <= 2000`: seg and reg weights 0
mask_switch = 10000  # --cam2mask: `mask = aux-CAM label if n_iter <= 10000 else final`
# multi_scale_cam2 with --cam_scales (1.0, 0.5, 0.75, 1.5)
cam_ms = dict(preset='toco', scales=(1.0, 0.5, 0.75, 1.5))
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'  # tools/model_converters/vit_timm.py

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=more_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        # after the pipeline's RandomResizedCrop: flip + ColorJitter(0.4, 0.4, 0.2, 0.1) p 0.5
        main_view=dict(
            type='PhotometricView',
            flip_prob=0.5,
            jitter=dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.5),
            gray_prob=0.0,
            blur_prob=0.0,
            solarize_prob=0.0)),
    backbone=dict(
        type='TokenViT',
        vit=dict(type='timm', model_name='vit_base_patch16_224'),
        out_blocks=(-1, ),
        out_norm=True,
        extra_tokens=dict(aux=dict(block=-3, norm=False)),
        with_cls_token=True,
        # 24 class tokens, the first 4 with random position rows (timm trunc_normal_, std 1)
        class_tokens=dict(num=num_class_tokens, drop=4, drop_pos_std=1.0),
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
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)),
    label_sources=dict(
        # PTC (bkg 0.65 in the script has no effect with ignore_mid) and UNE until the switch:
        # multi-scale aux CAM on the token grid, fg > 0.7, ignore (0.25, 0.7], bg <= 0.25
        aff=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=0.65,
            ignore_band=(low_thr, high_thr)),
        # CLE until the switch: aux CAM, high 0.5
        cle_aux=dict(
            type='CAMLabelSource',
            cam='aux',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, 0.5)),
        # CLE and UNE after the switch: final CAM, high 0.6, low 0.35
        final=dict(
            type='CAMLabelSource',
            cam='main',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(0.35, 0.6)),
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
        # GCR (x10 lr under loss_terms) + attri; must precede CLE / UNE (they read its tokens)
        dict(type='AttriTerm', name='attri', in_dim=embed_dim, temp=0.07, weight=1.0),
        dict(type='PTCTerm', name='ptc', label='aff', weight=0.3),
        dict(
            type='CLETerm',
            name='cle_aux',
            label='cle_aux',
            temp=0.5,
            weight=0.2,
            schedule=dict(type='Window', start=-1, end=mask_switch),
            skip_when_off=True),
        dict(
            type='CLETerm',
            name='cle',
            label='final',
            temp=0.5,
            weight=0.2,
            schedule=dict(type='StepOn', start=mask_switch),
            skip_when_off=True),
        dict(
            type='UNETerm',
            name='une_aux',
            label='aff',
            weight=0.1,
            schedule=dict(type='Window', start=-1, end=mask_switch),
            skip_when_off=True),
        dict(
            type='UNETerm',
            name='une',
            label='final',
            weight=0.1,
            schedule=dict(type='StepOn', start=mask_switch),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg',
            label='seg',
            loss='bg_fg',
            weight=0.12,
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
    # MoRe's headline (README 76.4 VOC val) is cam2seg (tools/infer_cam.py --cam2seg True):
    # the final CAM (scale 1 + flip) thresholded at 0.5 with the classifier's predicted tags
    # (seg-head tags when it predicts none). predict_source='seg' gives the decode head (MS
    # (1.0, 1.25, 1.5) + CRF in tools/infer_seg_voc.py).
    test_cfg=dict(
        mode='whole',
        predict_source='predictor',
        predictor=dict(
            type='CAM2SegPredictor',
            cam_head='main',
            multi_scale=dict(preset='toco', scales=(1.0, )),
            bg_thr=bkg_thr,
            min_pixels=5),
        seg_scales=(1.0, 1.25, 1.5),
        seg_flip=True,
        seg_flip_merge='sum',
        seg_scale_merge='max',
        crf=None,
        cam_head='main',
        cam=dict(cam_ms, bg_thr=bkg_thr)))

# MoRe's PolyWarmupAdamW (ToCo's): AdamW 6e-5 (encoder and its norms x1; CAM heads, GCR (in
# loss_terms) and decoder x10), wd 0.01, betas (0.9, 0.999); warm-up 1500 from 1e-6 * lr, poly 0.9.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'cam_heads': dict(lr_mult=10.0),
            'loss_terms': dict(lr_mult=10.0),
            'decode_head': dict(lr_mult=10.0)
        }))
