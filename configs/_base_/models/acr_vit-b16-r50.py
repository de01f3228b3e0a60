# ACR (Sun et al., "All-pairs Consistency Learning for WSSS", ICCV'23 Workshop) on the
# single-stage chassis. Reference: OpenNLPLab/ACR_WSSS train_acr.py, DPT/ACR.py, infer_cam.py,
# train_acr.sh. One branch: the ViT-Hybrid (R50 + ViT-B/16, timm `vit_base_r50_s16_384`) with
# the attention of every block and the PRE-norm class token of the last block (ACR reads the
# block-11 forward hook, activations['4']); a Linear(768, 20) class-token classifier; a view
# pass on the flipped batch; L = MLSM(view 1) + MLSM(view 2) + 125 * (L1 of the class-token
# attention + L1 of the patch affinity), all blocks, view 2 un-flipped on the token grid.
# No segmentation head: ACR's output is its gradient-attention CAM (GETAM, func 'grad',
# blocks >= 10, x summed patch affinity), scored as seeds.
num_fg_classes = 20
embed_dim = 768
depth = 12
acr_crop_size = (384, 384)
alpha = 125  # train_acr.sh --alpha 125 (argparse default 100)
pretrained = 'checkpoints/vit-b16-r50_384_mmwsss.pth'  # tools/model_converters/vit_timm.py

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        # myTool.get_data_from_chunk_*: ImageNet mean / std on RGB
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=acr_crop_size,
        pad_val=0,  # ACR's RandomCrop container is zero AFTER normalisation
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes,
        # view 2 = transforms.RandomHorizontalFlip(p=1) of the whole (normalised) batch
        views=dict(flip=dict(source='main', aug=dict(type='GeometricView', flip=True)))),
    backbone=dict(
        type='TokenViT',
        vit=dict(type='timm', model_name='vit_base_r50_s16_384'),
        out_blocks=(-1, ),
        out_norm=False,  # activations['4'] = block 11 output, before the final norm
        extra_tokens={},
        with_cls_token=True,
        attn_blocks=tuple(range(depth)),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        cls=dict(
            type='ClsTokenHead',
            in_channels=embed_dim,
            in_index=0,
            num_classes=num_fg_classes,
            # train_acr.sh: infer_cam.py --start_layer 10 --getam_func grad --aff True
            grad_cam=dict(start_layer=10, func='grad', aff=True))),
    decode_head=None,
    # the flipped batch through the same network (class-token logits + attention maps)
    view_passes=dict(flip=dict(branch='net', view='flip', with_seg=False)),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='cls', weight=1.0),
        dict(type='PassClsTerm', name='cls_flip', view_pass='flip', cam='cls', weight=1.0),
        dict(
            type='AttentionConsistencyTerm',
            name='acr',
            branch='net',
            view_pass='flip',
            view='flip',
            weight=alpha),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='cls',
        # infer_cam.py: one scale, the image and its flip SUMMED, each upsampled
        # (bilinear, align_corners=True), then per-class min-max normalisation
        cam=dict(
            scales=(1.0, ),
            flip=True,
            flip_merge='sum',
            scale_merge='sum',
            relu_first=True,
            resize_before_merge=True,
            norm='minmax',
            norm_eps=1e-6,  # infer_cam.py: (cam - min) / (max - min + 1e-6)
            input_resize='scale_factor',
            out_stride=None,
            align_corners=True,
            bg_thr=0.5)))

# torchutils.PolyOptimizer(model.parameters(), lr, weight_decay=5e-4): SGD(params, lr, 5e-4)
# positionally, i.e. momentum 5e-4 and NO weight decay (no parameter groups). The default
# (momentum_quirk=False) is the intent, SGD momentum 0.9 + weight decay 5e-4; the official
# behaviour is momentum_quirk=True (see README).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='PolySGD', lr=0.05, momentum=0.9, weight_decay=5e-4, momentum_quirk=False))
