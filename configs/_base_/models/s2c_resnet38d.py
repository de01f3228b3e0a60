# S2C (Kweon & Yoon, CVPR'24, "From SAM to CAMs") on the single-stage chassis: one branch
# (ResNet-38 conv6 = relu(bn7), BN frozen, conv1a/b2* frozen, b6/b7 Dropout2d 0.2), S2C's
# CAM head (fc8 4096 -> 256 + ReLU = the contrast feature, fc9 256 -> C, GAP), three terms
# with weights (1, 1, 1): the classification loss, SSC (SAM segment contrasting, on the
# offline SAM "segment everything" maps the pipeline loads) and CPM (SAM prompted with the
# net's own multi-scale CAM peaks, from epoch 2 on).
# Reference: sangrockEG/S2C models/model_s2c.py, networks/resnet38d.py::Net_CAM,
# voc12/data.py, get_se_map.py (methods-foundation.md §14).
num_fg_classes = 20
s2c_crop_size = (256, 256)
pretrained = 'checkpoints/resnet38d_ilsvrc_mmwsss.pth'  # tools/model_converters/resnet38.py
# the official ./pretrained/sam_vit_h.pth (= sam_vit_h_4b8939.pth); read on the first CPM step
sam_checkpoint = 'checkpoints/sam/sam_vit_h_4b8939.pth'
# `segment everything`: SamAutomaticMaskGenerator(sam_vit_h) with its default parameters
s2c_sam = dict(type='SegmentAnything', arch='vit_h', checkpoint=sam_checkpoint, amg_cfg=dict())
cpm_start = 2 * (10582 // 8)  # use_cpm = epo > sstart - 1 with sstart 2: epochs 2.. (0-based)

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (imutils.normalize)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=s2c_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,  # the pipeline pads with the mean colour (0 after normalisation)
        num_classes=num_fg_classes),
    backbone=dict(
        type='ResNet38d',
        out_indices=(5, ),  # conv6 = relu(bn7(b7)), 4096 channels, output stride 8
        freeze_bn=True,  # Net_CAM.train(): every BN in eval mode, affine frozen
        frozen_stages='seam',  # not_training = conv1a, b2, b2_1, b2_2
        dropouts=(0.2, 0.2),  # ResBlock_bot(..., dropout=0.2) for b6 and b7
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        cam=dict(
            type='S2CCAMHead',
            in_channels=4096,
            in_index=0,
            feat_channels=256,  # --D
            num_classes=num_fg_classes,
            pool='gap',  # pred = avgpool(cam)
            # BCEWithLogitsLoss (mean over B x C) = MultiLabelSoftMarginLoss
            loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cam'),
        dict(
            type='S2CSSCTerm',
            name='ssc',
            branch='net',
            cam='cam',
            temperature=1.0,  # --T
            # 'image': the softmax runs over the image's own segments (the paper);
            # 'batch' reproduces the code's scatter_mean columns (see ssc_loss)
            columns='image'),
        dict(
            type='S2CCPMTerm',
            name='cpm',
            branch='net',
            cam='cam',
            sam=s2c_sam,
            scales=(0.5, 1.0, 1.5, 2.0),
            point_thr=0.5,  # --th_multi
            min_distance=20,
            drop_first_peak=True,  # peaks_valid[1:]
            mask_index=2,  # idx_max_sam = 2
            schedule=dict(type='StepOn', start=cpm_start, strict=False)),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cam',
        # infer_multi: 4 scales (PIL bicubic) x flip, each CAM bilinearly resized to the
        # image, ReLU, label-masked, all 8 summed, / (max + 1e-5); the seeds config sweeps
        # the background threshold as evaluation.py does
        cam=dict(
            scales=(0.5, 1.0, 1.5, 2.0),
            flip=True,
            flip_merge='sum',
            scale_merge='sum',
            relu_first=True,
            resize_before_merge=False,
            norm='max',
            input_resize='pil_bicubic',
            out_stride=None,
            bg_thr=0.25)))

# tools/utils.py::PolyOptimizer(lr 0.02, wd 5e-4, poly 0.9, max_step = epochs x iters). Its
# four groups (x1, x2 biases, x10 / x20 from-scratch) collapse to ONE x1 group here:
# Net_CAM.from_scratch_layers is empty (fc8 / fc9 train at the base lr) and no conv has a
# bias. As SEAM's (configs/_base_/models/seam_resnet38d.py), the PolyOptimizer's
# SGD(params, lr, weight_decay) quirk (momentum = 5e-4) is an option, off by default.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.02, momentum=0.0, weight_decay=5e-4, momentum_quirk=False))
