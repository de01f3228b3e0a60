# SEAM (Wang et al., CVPR'20) on the single-stage chassis: one branch (ResNet-38, output stride
# 8, frozen BN; its input appended to its outputs for PCM), the fc8 + PCM CAM head, a second
# view (the crop x0.3, bilinear, align_corners=True) run through the same branch, one term
# with the four losses. Reference: YudeWang/SEAM train_SEAM.py, network/resnet38_SEAM.py,
# infer_SEAM.py (methods-consistency.md §0, §2).
num_fg_classes = 20
seam_crop_size = (448, 448)
pretrained = 'checkpoints/resnet38d_ilsvrc_mmwsss.pth'  # tools/model_converters/resnet38.py

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (SEAM's Normalize)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=seam_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,  # the pipeline pads with the mean colour already (0 after norm.)
        num_classes=num_fg_classes,
        # img2 = F.interpolate(img1, scale_factor=0.3, mode='bilinear', align_corners=True);
        # bilinear resizing commutes with the per-channel affine normalisation
        views=dict(
            small=dict(
                source='main', aug=dict(type='GeometricView', scale_factor=0.3,
                                        align_corners=True)))),
    backbone=dict(
        type='AppendInput',
        backbone=dict(
            type='ResNet38d',
            out_indices=(3, 4, 5),  # conv4 (512), conv5 (1024), conv6 (4096)
            freeze_bn=True,  # the official Net.train(): BN in eval mode, affine frozen
            frozen_stages='seam',  # not_training = conv1a, b2, b2_1, b2_2
            init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    cam_heads=dict(
        cam=dict(
            type='PCMCAMHead',
            in_channels=4096,
            pcm_in_channels=(512, 1024),
            pcm_channels=(64, 128),
            num_classes=num_fg_classes,
            cam_index=2,
            pcm_indices=(0, 1),
            img_index=-1,
            dropout_ratio=0.5)),
    # view 2 through the same branch: backbone only, the term runs the head on it
    view_passes=dict(small=dict(branch='net', view='small', cam_heads=(), with_seg=False)),
    loss_terms=[dict(type='SEAMTerm', name='seam', branch='net', cam='cam', small_pass='small')],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cam',
        # infer_SEAM.py: cam_rv[:, 1:], scales (0.5, 1, 1.5, 2) x flip summed, SEAM min-max;
        # out_cam_pred_alpha 0.26 (the seeds config sweeps the threshold instead)
        cam=dict(preset='seam', bg_thr=0.26)))

# torchutils.PolyOptimizer: groups x1 (backbone conv weights), x2 (backbone biases, wd 0),
# x10 (new layers: fc8, f8_3, f8_4, f9), x20 (their biases, wd 0; none exist); poly 0.9 is
# mmengine PolyLR. The official SGD gets momentum = 5e-4 from the positional weight-decay
# slot (PolyOptimizer quirk, §0.1); default here is the code's intent, plain SGD (momentum 0)
# with weight decay 5e-4 per group: `optim_wrapper.optimizer.momentum_quirk=True` reproduces
# the quirk (momentum 5e-4, decay only through the groups' decay_mult).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.01, momentum=0.0, weight_decay=5e-4, momentum_quirk=False),
    paramwise_cfg=dict(
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        custom_keys={'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)}))
