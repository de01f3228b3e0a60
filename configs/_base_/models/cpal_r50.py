# CPAL (Tang et al., CVPR'24) on the single-stage chassis, on SIPE's skeleton (the authors name
# SIPE, CLIP-ES and SFC as their bases; the official repo has NO code, only a README): one
# branch (IRN-style ResNet-50, OS 16, all BN frozen, conv1..layer2 frozen as SIPE), the CPAL
# head (SIPE's classifier + side convs, plus a context bank of instance prototypes), two terms:
# L_BCE (multi-label soft margin on GAP) + L_self (|norm_cam - PA-CAM / max|) and
# 0.1 x L_fda (pixel-to-context-prototype alignment) inside the CPAL term.
# Every value marked "open" is a choice the paper description leaves open
# (configs/cpal/README.md, "Open choices").
num_fg_classes = 20
cpal_crop_size = (512, 512)
model = dict(
    type='PrototypeCAMWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (torchvision weights)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=cpal_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        frozen_stages=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    cam_heads=dict(
        cpal=dict(
            type='CPALHead',
            in_channels=2048,
            in_index=-1,
            num_classes=num_fg_classes,
            side_in_channels=(256, 512, 1024, 2048),
            side_channels=(128, 128, 256, 256),
            side_indices=(0, 1, 2, 3),
            ref_side=2,
            detach_sides=True,
            bg_scale=0.5,
            train_seed_feature='cls',
            test_seed_feature='hie',
            bank_slots=64,  # open: context prototypes per class
            bank_update='fifo',  # open: a queue of instance prototypes
            bank_momentum=0.9,  # open: only for bank_update='momentum'
            bank_bg=True,  # open: background prototypes are context-aware too
            topk=8,  # open: soft positive neighbours
            tau=0.1,  # open: neighbour softmax temperature
            anchor_weight=0.5,  # open: instance vs context in the prototype
            ext_cam_dir=None,  # CLIP-ES CAM files (configs/cpal/cpal-clipes_*)
            ext_cam_weight=1.0,  # open: seeds from the external CAM alone when given
            loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cpal'),
        dict(
            type='CPALTerm',
            name='cpal',
            branch='net',
            cam='cpal',
            weight=1.0,  # L_self (SIPE's GSC weight)
            fda_weight=0.1,  # open: L_fda relative weight
            fda_distance='ce',  # open: alignment distance
            fda_tau=0.1,  # open: alignment temperature
            fda_detach=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cpal',
        # SIPE's make_cam.py with PA-CAM: 4 scales, each with its flip, summed, max-normalised,
        # argmax over bg + labelled classes
        label_cam=dict(
            scales=(1.0, 0.5, 1.5, 2.0),
            input_resize='pil_bicubic',
            align_corners=False,
            scale_merge='sum',
            norm='max')))

# SIPE's PolyOptimizerSGD recipe: groups x1 / x10, wd 1e-4, poly 0.9, grad clip 1; plain SGD
# momentum 0 by default, `optim_wrapper.optimizer.momentum_quirk=True` reproduces the IRN-family
# momentum = wd quirk (methods-prototype.md §0.1).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.1, momentum=0.0, weight_decay=1e-4, momentum_quirk=False),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0, decay_mult=1.0),
        'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)
    }))
