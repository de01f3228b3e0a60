# PSDPM (Zhao et al., CVPR'24) AS RELEASED (xinqiaozhao/PSDPM) on the single-stage chassis: one
# branch (IRN-style ResNet-50, strides (2, 2, 2, 1) -> OS 16, all BN frozen, conv1/bn1 frozen,
# nothing detached; the input image appended to its outputs for the PCM embeddings), the PSDPM
# head (classifiers on x2 / x3 / x4, PCM attention per level, side convs 512/1024/2048 ->
# 128/256/256), one term (two scales: L_CLS + 2 x L1 at s1 + 0.4 x L1 at s2, replay slots).
# The baseline method's segmentation probability maps are files (`baseline_dir`, one
# (21, H, W) float .npy / .npz per image, no pickle: mmwsss/models/utils/baseline_maps.py).
# Reference: network/resnet50_psdpm.py, train_resnet50_psdpm.py, make_cam.py, eval_cam.py
# (methods-prototype.md §6).
num_fg_classes = 20
psdpm_size = (512, 512)
baseline_dir = 'work_dirs/psdpm_baseline_voc12aug'
model = dict(
    type='PrototypeCAMWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (torchvision weights)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=psdpm_size,
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
            out_indices=(1, 2, 3),  # x2 (512), x3 (1024), x4 (2048); index 3 = the image
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 1),
            style='pytorch',
            frozen_stages=0,  # conv1 + bn1 only (Net.train); nothing is detached in PSDPM
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=True,  # FixedBatchNorm
            init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))),
    cam_heads=dict(
        psdpm=dict(
            type='PSDPMHead',
            in_channels=2048,
            num_classes=num_fg_classes,
            level_in_channels=(512, 1024, 2048),
            level_indices=(0, 1, 2),
            img_index=-1,
            side_channels=(128, 256, 256),
            ref_side=1,  # hie_fea on the side3 (x3) grid
            level_weights=(0.25, 0.5, 1.0),  # (cam4 + 0.5 cam3 + 0.25 cam2) / 1.75
            residual=5.0,  # att = aff x + 5 x
            bg_pad=0.4,  # IS_CAM1
            test_flip=False,  # CAM.forward returns the un-flipped image's CAM only
            init_cfg=None,  # PyTorch default init of every new layer (as the official)
            loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))),
    loss_terms=[
        dict(
            type='PSDPMTerm',
            name='psdpm',
            branch='net',
            cam='psdpm',
            baseline_dir=baseline_dir,
            baseline_bg='one_minus_max',  # only for CAM-format (keys / cams) files
            scale2=0.5,
            gsc_weight=2.0,
            cons_weight=0.4,
            proto_weight=0.05,
            # the official 21-slot replay memory (None switches it off)
            replay=dict(num_slots=num_fg_classes + 1, seed=0),
            use_replay=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='psdpm',
        # make_cam.py: PIL-bicubic rescales, the multi-level classifier CAM per scale,
        # bilinear to the image, summed, / max, IS_CAM1 = [bg + 0.4, 2 fg]; eval_cam.py argmax
        label_cam=dict(
            scales=(1.0, 0.5, 1.5, 2.0), input_resize='pil_bicubic', align_corners=False)))

# PolyOptimizerSGD (groups x1 backbone / x10 new layers, wd 1e-4, poly 0.9): plain SGD,
# momentum 0 by default; `optim_wrapper.optimizer.momentum_quirk=True` reproduces the code's
# SGD(params, lr, weight_decay) call (momentum = wd = 1e-4, §0.1). clip_grad_norm_(1).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.1, momentum=0.0, weight_decay=1e-4, momentum_quirk=False),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0, decay_mult=1.0),
        'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)
    }))
