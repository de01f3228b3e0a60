# RCA (Zhou et al., CVPR'22) on the single-stage chassis: one branch (VGG-16 cfg D1, output
# stride 8), two CAM heads -- the fine RCAHead (semantic aggregation over the memory's
# cluster centres + 20 per-class heads; it owns the regional memory and the contrast
# projection extra_F) and the coarse RCACoarseHead -- and four terms: the fine and coarse
# classification losses (1 + 0.4), the region-contrast mix-up loss (0.01 from epoch 2, plus
# the memory write every iteration) and the online attention accumulation (epochs >= 1).
# Reference: maeve07/RCA models/rca.py, train.py. Dataset configs set iters_per_epoch,
# num_epochs and att_dir (RCA is epoch-based; the chassis counts iterations).
num_fg_classes = 20
iters_per_epoch = 1323  # ceil(10,582 / 8): train_cls.txt at batch 8
num_epochs = 30
att_dir = 'work_dirs/rca_voc12aug/att'
rca_crop_size = (368, 368)
pretrained = 'https://download.openmmlab.com/mmclassification/v0/vgg/' \
    'vgg16_batch256_imagenet_20210208-db26f1a5.pth'  # mmpretrain VGG-16 (ImageNet)
feat_dim = 512

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=rca_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        # RCA's only augmentation: ColorJitter(0.3, 0.3, 0.3, 0.1), always applied; no flip,
        # no crop (the accumulated maps must stay aligned with the image)
        main_view=dict(
            type='PhotometricView',
            flip_prob=0.0,
            jitter=dict(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1, prob=1.0),
            gray_prob=0.0,
            blur_prob=0.0,
            solarize_prob=0.0)),
    backbone=dict(
        type='VGG16D1', init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                                      prefix='backbone.')),
    cam_heads=dict(
        main=dict(
            type='RCAHead',
            in_channels=feat_dim,
            num_classes=num_fg_classes,
            channels=512,
            num_convs=3,
            inter_channels=512,
            num_clusters=10,
            queue_len=500,
            write_blend=0.99,  # queue[ptr] = 0.99 queue[ptr] + 0.01 emb (the code's rule)
            agg_scale=2.0,  # sim / cluter_num * 20
            iters_per_epoch=iters_per_epoch,
            cluster_seed=0,
            cluster_n_init=10,
            memory_seed=0),
        coarse=dict(
            type='RCACoarseHead',
            in_channels=feat_dim,
            num_classes=num_fg_classes,
            channels=512,
            num_convs=3)),
    decode_head=None,
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main', weight=1.0),
        dict(type='ClsTerm', name='cls_coarse', cam='coarse', weight=0.4),
        dict(
            type='RCAContrastTerm',
            name='contrast',
            cam='main',
            coarse='coarse',
            tau=0.07,
            alpha=8.0,
            conf=0.7,
            chain_masks=False,
            weight=0.01,
            # `if current_epoch < 2: no contrast`
            schedule=dict(type='StepOn', start=2 * iters_per_epoch, strict=False)),
        dict(
            type='RCAAttentionTerm',
            name='oaa',
            cam='main',
            att_dir=att_dir,
            iters_per_epoch=iters_per_epoch,
            num_epochs=num_epochs,
            start_epoch=1,
            min_prob=0.1),
    ],
    train_cfg=dict(),
    # seeds: the live fine map, ReLU + min-max per class (what gen_labels reads from the
    # accumulated maps), single scale as the official inference
    test_cfg=dict(
        predict_source='cam',
        cam_head='main',
        cam=dict(
            scales=(1.0, ),
            flip=False,
            relu_first=True,
            norm='minmax',
            input_resize='scale_factor',
            out_stride=None,
            resize_before_merge=True)))

# SGD (Nesterov, momentum 0.9), lr 1e-3, wd 5e-4; the official four groups:
# backbone / Q / K / V / aggre / concat_project weights 1x, their biases 2x; every
# parameter named 'extra*' (per-class heads, coarse head, extra_F) weights 10x, biases 20x
_extra_bias = {
    f'{name}.bias': dict(lr_mult=20.0)
    for name in ('extra_conv1', 'extra_conv2', 'extra_conv3', 'extra_score', 'extra_F.0',
                 'extra_F.1', 'extra_F.3')
}
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys=dict(extra=dict(lr_mult=10.0), **_extra_bias)))
# extra_F is unused until the contrast switches on (epoch 2): DDP must not wait for its grads
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
