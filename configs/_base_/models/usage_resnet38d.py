# USAGE (Peng et al., ICCV'23) on the single-stage chassis, CNN variant (ResNet-38).
# NOT FROM RELEASED CODE: godlin-sjtu/USAGE holds only a README; only the abstract was read
# (reference §9). Every choice below is ours and listed in configs/usage/README.md:
#   backbone  ResNet-38 (README: DeiT-S and ResNet-38), SEAM's CAM head (the code builds on SEAM)
#   (i)   USAGEGenerationTerm: BCE of the power-mean (exponent 1/tau) of sigmoid(CAM) over the
#         image; tau from the network type: CNN 2.0 (grows seeds), Transformer 0.5 (shrinks)
#   (ii)  USAGEConsistencyTerm: L1 between the max-normalised seeds of the crop and of a second
#         view (SEAM's x0.3 rescale, bilinear, align_corners=True) brought back to its grid
#   weights 1 and 1, no schedule; seeds: PSA-style multi-scale CAMs (README: PSA refines them)
num_fg_classes = 20
usage_crop_size = (448, 448)
pretrained = 'checkpoints/resnet38d_ilsvrc_mmwsss.pth'  # tools/model_converters/resnet38.py
network = 'cnn'

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=usage_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        views=dict(
            view=dict(
                source='main',
                aug=dict(
                    type='GeometricView', scale_factor=0.3, mode='bilinear', align_corners=True)))),
    backbone=dict(
        type='ResNet38d',
        out_indices=(5, ),
        freeze_bn=True,
        frozen_stages='seam',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        main=dict(
            type='CAMHead',
            in_channels=4096,
            in_index=-1,
            num_classes=num_fg_classes,
            pool='gap',
            dropout_ratio=0.5)),
    decode_head=None,
    view_passes=dict(view=dict(branch='net', view='view', cam_heads=('main', ), with_seg=False)),
    loss_terms=[
        dict(type='USAGEGenerationTerm', name='gen', cam='main', network=network, weight=1.0),
        dict(
            type='USAGEConsistencyTerm',
            name='reg',
            cam='main',
            view_pass='view',
            view='view',
            weight=1.0),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='main',
        cam=dict(preset='irn', out_stride=8, bg_thr=0.2)))

# SEAM's optimiser (the code builds on SEAM): SGD lr 0.01, wd 5e-4, poly 0.9, heads x10.
# PolySGD(momentum_quirk=True) reproduces SEAM's momentum = 5e-4.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'cam_heads': dict(lr_mult=10.0)}))
