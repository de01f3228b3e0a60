# S&M, "Splitting vs. Merging" (Zhang, Lin, Liu, Cai, Kot, ECCV'20) on the single-stage chassis.
# NOT FROM RELEASED CODE: no code exists and only the abstract was read (reference §8). Every
# choice below is ours and listed in configs/sm/README.md:
#   backbone  ResNet-38 (PSA/SEAM's CAM network; the paper's backbone is unverified)
#   maps      two CAM heads on the same conv6 features (cam1, cam2), SEAM's head: Dropout2d 0.5
#             + 1x1 conv without bias, GAP, multi-label soft margin (ClsTerm each)
#   splitting SMDiscrepancyTerm: mean cosine similarity of the two ReLU'd CAMs (present classes)
#   merging   SMIntersectionTerm: the GAP of min(cam1, cam2) must classify the image
#   weights   all 1 (unverified), no schedule
#   seeds     one head's CAM (test_cfg.cam_head); PSA-style multi-scale inference
num_fg_classes = 20
sm_crop_size = (448, 448)
pretrained = 'checkpoints/resnet38d_ilsvrc_mmwsss.pth'  # tools/model_converters/resnet38.py
cam_head = dict(
    type='CAMHead',
    in_channels=4096,
    in_index=-1,
    num_classes=num_fg_classes,
    pool='gap',
    dropout_ratio=0.5,
    loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet mean / std (PSA family, reference §0.2)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=sm_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='ResNet38d',
        out_indices=(5, ),
        freeze_bn=True,
        frozen_stages='seam',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(cam1=cam_head, cam2=cam_head),
    decode_head=None,
    loss_terms=[
        dict(type='ClsTerm', name='cls1', cam='cam1', weight=1.0),
        dict(type='ClsTerm', name='cls2', cam='cam2', weight=1.0),
        dict(type='SMDiscrepancyTerm', name='dis', cams=('cam1', 'cam2'), weight=1.0),
        dict(type='SMIntersectionTerm', name='inter', cams=('cam1', 'cam2'), weight=1.0),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cam1',
        # PSA / SEAM inference: scales (1, 0.5, 1.5, 2) x flip, summed, per-class max norm
        cam=dict(preset='irn', out_stride=8, bg_thr=0.2)))

# PSA-family optimiser (reference §0.1/§0.2): SGD lr 0.01, wd 5e-4, poly 0.9 per iteration,
# new layers x10 (the heads have no bias; ResNet-38 convs have none and its BN is frozen).
# PolySGD(momentum_quirk=True) reproduces the PSA code's momentum = 5e-4.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'cam_heads': dict(lr_mult=10.0)}))
