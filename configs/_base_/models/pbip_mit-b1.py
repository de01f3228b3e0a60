# PBIP (Tang et al., CVPR'25) on the single-stage chassis: MiT-B1 (strides 4, 2, 2, 1), one
# sub-class prototype classifier per stage 2-4 (stage 1 has loss weight l1 = 0 and no use at
# test: left out), ClsTerm on the mean-merged parent logits (l2 0.1, l3 1, l4 1), the image
# matching term (FG/BG InfoNCE + 0.0005 mean(cam4), x l5 = 0.1) through a FROZEN encoder.
# Reference: QingchenTang/PBIP train_stage_1.py, work_dirs/bcss/classification/config.yaml.
num_fg_classes = 4
num_subclasses = 3  # k per class, [3, 3, 3, 3]
proto_dim = 512  # MedCLIP vision embedding
# sub-class centres: tools/pbip_prototypes.py build (per-class KMeans k=3, seed 42)
proto_file = 'work_dirs/pbip_prototypes/bcss-wsss_medclip_k3.npz'
# MiT-B1 ImageNet weights (mmseg layout: tools/model_converters/mit2mmseg.py of mmseg)
pretrained = 'checkpoints/mit-b1_mmseg.pth'
# MedCLIP vision weights (Swin-T + 768->512 projection), supplied by the user in this
# module's layout (backbone.* timm Swin keys, projection.weight)
encoder_checkpoint = 'checkpoints/medclip-vision_mmwsss.pth'
stage_channels = (64, 128, 320, 512)

model = dict(
    type='PBIPSegmentor',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[0.668 * 255, 0.478 * 255, 0.706 * 255],
        std=[0.174 * 255, 0.226 * 255, 0.198 * 255],
        bgr_to_rgb=True,
        size=(224, 224),
        pad_val=0,
        seg_pad_val=255,
        num_classes=num_fg_classes),
    backbone=dict(
        type='mmseg.MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 1],  # PBIP: last stage stride 1 (output stride 16)
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # stages 2 and 3 return detached CAMs (only cam4 carries gradient into the images)
    cam_heads=dict(
        cam2=dict(
            type='PBIPSubclassHead',
            in_channels=stage_channels[1],
            in_index=1,
            num_classes=num_fg_classes,
            num_subclasses=num_subclasses,
            proto_dim=proto_dim,
            checkpoint=proto_file,
            n_ratio=0.5,
            scale_init=1 / 0.07,
            detach_cam=True),
        cam3=dict(
            type='PBIPSubclassHead',
            in_channels=stage_channels[2],
            in_index=2,
            num_classes=num_fg_classes,
            num_subclasses=num_subclasses,
            proto_dim=proto_dim,
            checkpoint=proto_file,
            n_ratio=0.5,
            scale_init=1 / 0.07,
            detach_cam=True),
        cam4=dict(
            type='PBIPSubclassHead',
            in_channels=stage_channels[3],
            in_index=3,
            num_classes=num_fg_classes,
            num_subclasses=num_subclasses,
            proto_dim=proto_dim,
            checkpoint=proto_file,
            n_ratio=0.5,
            scale_init=1 / 0.07,
            detach_cam=False)),
    loss_terms=[
        dict(type='ClsTerm', name='cls2', cam='cam2', weight=0.1),
        dict(type='ClsTerm', name='cls3', cam='cam3', weight=1.0),
        dict(type='ClsTerm', name='cls4', cam='cam4', weight=1.0),
        dict(
            type='PBIPMatchingTerm',
            name='match',
            cam='cam4',
            encoder=dict(
                type='FrozenImageEncoder',
                model_name='swin_tiny_patch4_window7_224',
                proj_dim=proto_dim,
                input_size=224,
                mean=None,  # PBIP feeds the min-max normalised images as they are
                std=None,
                checkpoint=encoder_checkpoint,
                prefix='backbone.'),
            alpha=0.5,
            temperature=0.07,
            cam_reg=0.0005,
            size=224,
            weight=0.1),  # l5
    ],
    test_cfg=dict(
        predict_source='cam',
        fuse=dict(cam2=0.3, cam3=0.3, cam4=0.4),
        tta_factors=(0.9, 1.0, 1.1),
        tta_flip=True,
        merge='softmax'))
