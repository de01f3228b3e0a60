# POT (Wang et al., CVPR'25) AS RELEASED (jianwang91/POT, which the authors say is not the
# CVPR version, issue #2) on the single-stage chassis: one branch (IRN-style ResNet-50, OS 16,
# all BN frozen, conv1/bn1 frozen, nothing detached; the input image appended to its outputs
# for the side convs), the POT head (classifier on x4 + side convs on [stage, RGB]), two terms:
# 0.5 x multi-label soft margin + 10 x L1(prototype CAM, CLIP-ES fusion).
# The CLIP-ES CAMs are files (`clip_cam_dir`, cams/<key>.npz as
# tools/generate_pseudo_labels.py --save-cams writes them for a configs/clip_es/ config).
# Reference: POT/network/resnet50_POT.py, train_resnet50_POT.py, make_cam.py, eval_cam.py
# (methods-prototype.md §7).
num_fg_classes = 20
pot_crop_size = (512, 512)
clip_cam_dir = 'work_dirs/clip-es_voc12aug/pseudo_labels'
model = dict(
    type='PrototypeCAMWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=pot_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='AppendInput',
        backbone=dict(
            type='mmseg.ResNet',
            depth=50,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 1),
            style='pytorch',
            frozen_stages=0,  # conv1 + bn1 only (Net.train); x2 is NOT detached in POT
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))),
    cam_heads=dict(
        pot=dict(
            type='POTHead',
            in_channels=2048,
            in_index=3,  # x4; index 4 is the appended image
            num_classes=num_fg_classes,
            side_in_channels=(256, 512, 1024, 2048),  # + 3 RGB channels each
            side_channels=(128, 128, 256, 256),
            side_indices=(0, 1, 2, 3),
            img_index=-1,
            ref_side=2,
            num_clusters=2,
            kmeans_seed=0,  # the official kmeans_pytorch is unseeded
            use_plan=True,  # paper intent; False = the release (plan computed, unused)
            plan_layout='class_major',  # 'released' = the sim.view(M, N, n_cls) layout
            ot_reg=0.1,
            ot_iters=100,
            add_weight_train=0.2,
            add_weight_test=0.3,
            clip_cam_dir=clip_cam_dir,
            bg_pad=0.4,
            loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='pot', weight=0.5),
        dict(type='POTTerm', name='con', branch='net', cam='pot', weight=10.0),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='pot',
        # make_cam.py: PIL-bicubic scales with flips; IS_CAM = fused map at scale 1.0,
        # IS_CAM1 = class map over all scales + bg pad 0.4; eval_cam.py argmax of the sum
        label_cam=dict(
            scales=(1.0, 0.5, 1.5, 2.0), input_resize='pil_bicubic', align_corners=False)))

# PolyOptimizerSGD (groups x1 / x10, wd 1e-4, poly 0.9): plain SGD momentum 0 by default,
# `optim_wrapper.optimizer.momentum_quirk=True` for the code's momentum = 1e-4 (§0.1);
# AMP (autocast + GradScaler) and clip_grad_norm_(1) as the official train loop.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.1, momentum=0.0, weight_decay=1e-4, momentum_quirk=False),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0, decay_mult=1.0),
        'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)
    }))
