# MuP-VSS (Duan, Yang, Wang, CVPR'25) on the single-stage chassis: one branch (ResNet-38 =
# WideResNet-38, output stride 8, frozen BN), the MuP-VSS head (global class tokens -> PEM ->
# multi-label prototypes -> visual spatial search = the CAMs), the classification loss and the
# three prototype losses. NOT FROM RELEASED CODE: none exists (reference methods-prototype.md
# §8, abstract only). Every value marked (open) is our choice; configs/mupvss/README.md gives
# the reasons.
num_fg_classes = 20
mupvss_crop_size = (448, 448)
pretrained = 'checkpoints/resnet38d_ilsvrc_mmwsss.pth'  # tools/model_converters/resnet38.py
embed_dim = 256  # (open) patch-token / prototype width
tau = 0.1  # (open) the temperature of the three contrasts
p2p_start = 1322  # (open) P2P after one epoch of VOC train_aug at batch 8 (10582 // 8)

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=mupvss_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='ResNet38d',
        out_indices=(5, ),  # conv6 (4096), output stride 8
        freeze_bn=True,
        frozen_stages='seam',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        cam=dict(
            type='MuPVSSHead',
            in_channels=4096,
            in_index=-1,
            num_classes=num_fg_classes,
            embed_dim=embed_dim,
            depth=2,  # (open) PEM layers
            num_heads=8,  # (open)
            ffn_ratio=4.0,
            self_attn=True,  # (open) the class queries see each other (multi-label context)
            pem_dropout=0.0,
            search='cos',  # (open) bounded maps: the unbounded 'dot' diverged at lr x10
            cos_scale=10.0,  # (open) logits in [-10, 10]
            cls_readout='gap',  # (open) the searched maps are what is classified
            dropout_ratio=0.5)),  # the PSA-family WR38 dropout7 before the new layers
    decode_head=None,
    label_sources=dict(
        # (open) P2P label: the training pass's CAM on the token grid, min-max normalised,
        # ToCo's token-level band: fg > 0.7, ignore (0.25, 0.7], bg <= 0.25
        p2p=dict(
            type='CAMLabelSource', cam='cam', size='cam', bg_thr=0.25, ignore_band=(0.25, 0.7))),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cam', weight=1.0),
        dict(
            type='MuPVSSCCPTerm',
            name='ccp',
            branch='net',
            cam='cam',
            tau=tau,
            anchors='present',
            negatives='all',
            weight=0.1),  # (open)
        dict(
            type='MuPVSSCIPTerm',
            name='cip',
            branch='net',
            cam='cam',
            tau=tau,
            keys='bank',  # (open) a class memory: a VOC batch of 8 rarely repeats a class
            bank=dict(
                num_classes=num_fg_classes,
                dim=embed_dim,
                num_slots=1,
                update='momentum',
                momentum=0.9,  # (open)
                batch_reduce='mean'),
            weight=0.1),  # (open)
        dict(
            type='MuPVSSP2PTerm',
            name='p2p',
            branch='net',
            cam='cam',
            label='p2p',
            tau=tau,
            bg='masked_mean',
            weight=0.1,  # (open)
            schedule=dict(type='StepOn', start=p2p_start, strict=False),
            skip_when_off=True),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cam',
        # (open) PSA-family CAM readout: ReLU'd search maps, scales (1, 0.5, 1.5, 2) x flip
        # summed, per-class max normalisation (IRN's preset on the stride-8 grid)
        cam=dict(preset='irn', out_stride=8, bg_thr=0.2)))

# The WR38 PSA-family optimiser (psa / SEAM PolyOptimizer): SGD lr 0.01, wd 5e-4, poly 0.9
# (PolyLR in the dataset config), backbone biases x2 without decay, new layers (the head:
# projection, global tokens, PEM) x10. The official PSA-family SGD gets its momentum from the
# weight-decay slot: `optim_wrapper.optimizer.momentum_quirk=True` reproduces it (momentum
# 5e-4, decay only through the groups); the default is the intent, plain SGD with decay.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.01, momentum=0.0, weight_decay=5e-4, momentum_quirk=False),
    paramwise_cfg=dict(
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        custom_keys={'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)}))
