# DuPL (Wu et al., CVPR'24) on the single-stage chassis: two independent ToCo-style students
# (ViT-B/16 tokens, GMP CAM head on the final tokens, aux CAM head on the PRE-norm tokens of
# block -3, LargeFOV decoder; no CTC), trained by cross supervision. Reference: Wu0409/DuPL
# train_final_voc.py, model/model_dupl.py, utils/cam_helper.py, utils/train_helper.py.
# Per step, for each branch i (j = the other branch):
#   a_i  PTC label: multi-scale aux CAM on the token grid, cam_to_label with the dynamic high
#        threshold (cam_to_label_dynamic_cls)
#   l_i  PAR label of the multi-scale final CAM with the dynamic bg_high (refine_cams_with_
#        dynamic_thres); li_gmm = l_i after the GMM noise filter with branch i's own seg loss
#   loss = sum of 4 MLSM + 0.2 (PTC_1 + PTC_2) + 0.2 (seg(b1, l2_gmm) + seg(b2, l1_gmm))
#          + 0.1 sim(b1, b2) + 0.05 (reg(b1, l2_gmm) + reg(b2, l1_gmm))
# Label sources run in config order, and a dumped config (work_dirs) sorts their names: a
# filtered label's name must sort after its source (l1 < l1_gmm).
# Dataset / schedule configs set crop size, iterations and the onsets below.
num_fg_classes = 20
embed_dim = 768
dupl_crop_size = (448, 448)
bkg_thr, high_thr, low_thr = 0.5, 0.7, 0.25  # DuPL's bkg_thre, high_thre, low_thre
max_iters = 20000
cam_iters = 2000  # seg on for n_iter > 2000; dynamic threshold from n_iter 2000
gmm_iters = 8000  # GMM filter for n_iter >= 8000; consistency reg for n_iter > 8000
# train_final_voc.py: high_thres_target per VOC class (aeroplane ... tvmonitor)
voc_high_targets = [
    0.70, 0.70, 0.70, 0.70, 0.55, 0.55, 0.55, 0.55, 0.70, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55,
    0.55, 0.55, 0.70, 0.55
]
# cosine_descent(0.70, targets, n_iter - 2000, 20000 - 2000): t = step / (num_steps - 1),
# i.e. t = (it - 2000) / 17999, so the chassis CosineDescent ends at 19999; per image the max
# over the present classes (Threshold reduce 'max')
dynamic_high = dict(
    type='CosineDescent',
    begin=cam_iters,
    end=max_iters - 1,
    begin_value=high_thr,
    end_value=voc_high_targets)
cam_ms = dict(preset='toco')  # multi_scale_cam2_siamese = ToCo's multi_scale_cam2
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'  # tools/model_converters/vit_timm.py
# DuPL comments out the flip of global_view1 (datasets/voc.py: flip_and_color_jitter); the
# pipeline's RandomFlip still flips the image. 0.0 = the official code; 0.5 = ToCo's second flip
main_flip_prob = 0.0
gmm_min_pixels = 1000  # pixels of a 448 x 448 label; scale with the crop area

_backbone = dict(
    type='TokenViT',
    vit=dict(type='timm', model_name='vit_base_patch16_224'),
    out_blocks=(-1, ),
    out_norm=True,
    extra_tokens=dict(aux=dict(block=-3, norm=False)),
    with_cls_token=False,  # DuPL has no class-token loss
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
_cam_head = dict(
    type='CAMHead', in_channels=embed_dim, in_index=0, num_classes=num_fg_classes, pool='gmp')
_aux_head = dict(
    type='CAMHead', in_channels=embed_dim, num_classes=num_fg_classes, pool='gmp', source='aux')
_decode_head = dict(
    type='LargeFOVHead',
    in_channels=embed_dim,
    in_index=0,
    channels=512,
    dilation=5,
    num_classes=num_fg_classes + 1,
    align_corners=False,
    # unused by the bg_fg SegTerms; used with loss='head'
    loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0))
_par = dict(
    type='PARRefiner',
    bg_high=high_thr,
    bg_low=low_thr,
    num_iter=10,
    dilations=(1, 2, 4, 8, 12, 24))

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=dupl_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        # global_view1 on the main image: ColorJitter p 0.8, grayscale 0.2, blur 1.0
        main_view=dict(
            type='PhotometricView', flip_prob=main_flip_prob, blur_prob=1.0, solarize_prob=0.0),
        flip_valid_mask=True,
        views=dict(
            # augment_data_strong(n=5, m=10): RandAugment (photometric ops) + an unconditional
            # h-flip of the main view, then model(need_sp=True) downscales it x0.75 (bilinear,
            # align_corners=False; the official resizes the normalised tensor, the same up to
            # float rounding since normalisation is affine)
            strong=dict(
                source='main',
                aug=[
                    dict(type='StrongView', num_ops=5, magnitude=10, flip_prob=1.0),
                    dict(
                        type='GeometricView',
                        scale_factor=0.75,
                        mode='bilinear',
                        align_corners=False)
                ]))),
    branches=dict(
        b1=dict(
            backbone=_backbone,
            cam_heads=dict(cam1=_cam_head, aux1=_aux_head),
            decode_head=_decode_head),
        b2=dict(
            backbone=_backbone,
            cam_heads=dict(cam2=_cam_head, aux2=_aux_head),
            decode_head=_decode_head)),
    # each branch's decoder on the strong view (no CAM heads needed)
    # the strong views are read only by the consistency terms (on after gmm_iters)
    view_passes=dict(
        strong1=dict(branch='b1', view='strong', cam_heads=(), start=gmm_iters),
        strong2=dict(branch='b2', view='strong', cam_heads=(), start=gmm_iters)),
    label_sources=dict(
        # PTC labels: multi-scale aux CAM on the token grid; fg > dynamic high, ignore
        # (0.25, high], bg <= 0.25
        a1=dict(
            type='CAMLabelSource',
            cam='aux1',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, dynamic_high)),
        a2=dict(
            type='CAMLabelSource',
            cam='aux2',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, dynamic_high)),
        # seg labels: PAR of the multi-scale final CAM, bg scores (dynamic high, 0.25)
        l1=dict(
            type='CAMLabelSource',
            cam='cam1',
            multi_scale=cam_ms,
            refiner=_par,
            refiner_thr=dict(bg_high=dynamic_high)),
        l2=dict(
            type='CAMLabelSource',
            cam='cam2',
            multi_scale=cam_ms,
            refiner=_par,
            refiner_thr=dict(bg_high=dynamic_high)),
        # GMM noise filter of each branch's own label with its own seg loss (n_iter >= 8000)
        l1_gmm=dict(
            type='GMMNoiseFilter',
            branch='b1',
            label='l1',
            min_pixels=gmm_min_pixels,
            schedule=dict(type='StepOn', start=gmm_iters, strict=False)),
        l2_gmm=dict(
            type='GMMNoiseFilter',
            branch='b2',
            label='l2',
            min_pixels=gmm_min_pixels,
            schedule=dict(type='StepOn', start=gmm_iters, strict=False))),
    loss_terms=[
        dict(type='ClsTerm', name='cls1', cam='cam1', weight=1.0),
        dict(type='ClsTerm', name='cls_aux1', cam='aux1', weight=1.0),
        dict(type='ClsTerm', name='cls2', cam='cam2', weight=1.0),
        dict(type='ClsTerm', name='cls_aux2', cam='aux2', weight=1.0),
        dict(type='PTCTerm', name='ptc1', branch='b1', label='a1', weight=0.2),
        dict(type='PTCTerm', name='ptc2', branch='b2', label='a2', weight=0.2),
        # cross supervision: b1 learns from b2's (filtered) label and vice versa
        dict(
            type='SegTerm',
            name='seg1',
            branch='b1',
            label='l2_gmm',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='StepOn', start=cam_iters),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg2',
            branch='b2',
            label='l1_gmm',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='StepOn', start=cam_iters),
            skip_when_off=True),
        dict(type='DiscrepancyTerm', name='sim', branches=('b1', 'b2'), weight=0.1),
        dict(
            type='StrongConsistencyTerm',
            name='reg1',
            branch='b1',
            label='l2_gmm',
            pass_name='strong1',
            view='strong',
            weight=0.05,
            schedule=dict(type='StepOn', start=gmm_iters),
            skip_when_off=True),
        dict(
            type='StrongConsistencyTerm',
            name='reg2',
            branch='b2',
            label='l1_gmm',
            pass_name='strong2',
            view='strong',
            weight=0.05,
            schedule=dict(type='StepOn', start=gmm_iters),
            skip_when_off=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='seg',
        # the paper reports the better of the two students: evaluate b1 and b2
        # (--cfg-options model.test_cfg.predict_branch=b2 model.test_cfg.cam_head=cam2)
        predict_branch='b1',
        # segmentation: scales (1.0, 1.5, 1.25), flip summed, scales max-merged, then CRF
        seg_scales=(1.0, 1.5, 1.25),
        seg_flip=True,
        seg_flip_merge='sum',
        seg_scale_merge='max',
        crf=dict(type='DenseCRF', preset='toco_seg', restrict_to_labels=False),
        # CAM evaluation (predict_source='cam'): bkg 0.5 over scales (1, 0.5, 1.5)
        cam_head='cam1',
        cam=dict(preset='toco', bg_thr=bkg_thr)))

# DuPL's PolyWarmupAdamW (get_optimizer): AdamW 6e-5 (encoders and their norms x1; CAM heads
# and decoders x10), wd 0.01 in every group, betas (0.9, 0.999); warm-up 1500 from 1e-6 * lr,
# then poly 0.9.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'cam_heads': dict(lr_mult=10.0),
        'decode_head': dict(lr_mult=10.0)
    }))
