# SIPE (Chen et al., CVPR'22) on the single-stage chassis: one branch (IRN-style ResNet-50:
# strides conv1 2 / layer2 2 / layer3 2 / layer4 1 -> output stride 16, all BN frozen,
# conv1..layer2 frozen = the official x2.detach()), the SIPE head (1x1 classifier on x4 +
# side convs 256/512/1024/2048 -> 128/128/256/256 on detached stages), two terms:
# L_cls (multi-label soft margin on GAP) + L_GSC (|norm_cam - IS_cam / max|), weights 1 / 1.
# Reference: chenqi1126/SIPE network/resnet50_SIPE.py, train_resnet50_SIPE.py, make_cam.py
# (methods-prototype.md §2).
num_fg_classes = 20
sipe_crop_size = (512, 512)
model = dict(
    type='PrototypeCAMWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (torchvision weights)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=sipe_crop_size,
        pad_val=0,  # IRN/SIPE pad the normalised crop with zeros
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),  # x1 (256), x2 (512), x3 (1024), x4 (2048)
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        frozen_stages=2,  # stem + layer1 + layer2: x2.detach() stops every gradient there
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,  # FixedBatchNorm
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    cam_heads=dict(
        sipe=dict(
            type='SIPEHead',
            in_channels=2048,
            in_index=-1,
            num_classes=num_fg_classes,
            side_in_channels=(256, 512, 1024, 2048),
            side_channels=(128, 128, 256, 256),
            side_indices=(0, 1, 2, 3),
            ref_side=2,
            detach_sides=True,
            bg_scale=0.5,
            train_seed_feature='cls',  # x4 in Net.forward
            test_seed_feature='hie',  # hie_fea in CAM.forward (official quirk, kept)
            loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='sipe'),
        dict(type='SIPETerm', name='gsc', branch='net', cam='sipe', weight=1.0),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='sipe',
        # make_cam.py: VOC12ClsDatasetMSF PIL-bicubic rescales, each with its flip (fused in
        # the head before seeds), IS-CAMs bilinearly resized to the image, summed over scales,
        # / (max + 1e-5) per channel, argmax over bg + labelled classes (no threshold)
        label_cam=dict(
            scales=(1.0, 0.5, 1.5, 2.0),
            input_resize='pil_bicubic',
            align_corners=False,
            scale_merge='sum',
            norm='max')))

# PolyOptimizerSGD: groups x1 (backbone) and x10 (newly added: classifier + sides), wd 1e-4 in
# both, poly 0.9 per step (mmengine PolyLR). The official SGD gets momentum = wd = 1e-4 from
# the positional slot (§0.1). Default: the code's intent as the IRN CAM baseline of this
# project reads it (plain SGD, momentum 0, wd 1e-4 per group);
# `optim_wrapper.optimizer.momentum_quirk=True` (with momentum unchanged) reproduces the
# quirk (momentum 1e-4, decay through the groups only). Gradient clipping: max norm 1.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.1, momentum=0.0, weight_decay=1e-4, momentum_quirk=False),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            # decay_mult writes weight_decay into each group, so the quirk keeps it
            'backbone': dict(lr_mult=1.0, decay_mult=1.0),
            'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)
        }))
