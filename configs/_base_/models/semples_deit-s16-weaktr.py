# SemPLeS (Lin et al., WACV'25; reference methods-foundation.md §6) on the single-stage
# chassis, stage (a) Segment-Label Matching on VOC; the stage configs override the term.
#   CAM model   WeakTr (hustvl/WeakTr): DeiT-S/16 with 20 class tokens (AttnOutTokenViT,
#               timm 'deit_small_patch16_224', drop-path 0.1) + WeakTrHead: relu(conv3x3)
#               coarse CAM x AAF-fused class-to-patch attention, refined by the fused
#               patch-to-patch attention (fine CAM = patch_attn @ cams). Only the conv and
#               the AAF receive gradients (SemPLeS detaches the tokens and the attention).
#               Starts from the user's WeakTr checkpoint, converted by
#               tools/model_converters/weaktr.py (a missing file fails naming it).
#   CLIP        frozen OpenAI ViT-B/32 (open_clip 'ViT-B-32' + QuickGELU), 224 input.
#   losses      SemPLeSTerm(stage='matching'): L_OTM + 2.4 L_BTM, 'a photo of {}.'.
#   inference   WeakTr/SemPLeS generate_attention_maps_ms: PIL-bicubic scales (1.0, 1.2),
#               image + flip, fine CAM summed at the image size, per-class min-max (1e-8).
num_fg_classes = 20
semples_crop_size = (224, 224)
# user files (nothing is downloaded)
clip_checkpoint = 'checkpoints/clip/ViT-B-32.pt'
weaktr_checkpoint = 'checkpoints/weaktr/weaktr_deit-s16_voc12_mmwsss.pth'
semples_clip = dict(type='OpenCLIP', arch='ViT-B-32', quick_gelu=True, checkpoint=clip_checkpoint)
model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # timm IMAGENET_DEFAULT_MEAN / STD, RGB
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=semples_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='AttnOutTokenViT',
        vit=dict(type='timm', model_name='deit_small_patch16_224', drop_path_rate=0.1),
        class_tokens=dict(num=num_fg_classes),
        out_blocks=(-1, ),
        out_norm=False,  # WeakTr's conv reads the last block's tokens before the norm
        extra_tokens={},
        with_cls_token=False,
        attn_blocks=tuple(range(12)),
        init_cfg=dict(type='Pretrained', checkpoint=weaktr_checkpoint, prefix='backbone.')),
    cam_heads=dict(
        weaktr=dict(
            type='WeakTrHead',
            num_classes=num_fg_classes,
            in_channels=384,
            num_heads=6,
            num_blocks=12,
            reduction=8,  # VOC: --reduction 8 --pool-type max
            feat_reduction=8,
            pool='max',
            attention_type='fused',
            detach_tokens=True,
            init_cfg=dict(type='Pretrained', checkpoint=weaktr_checkpoint, prefix='cam_head.'))),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='matching',
            clip=semples_clip,
            dataset='voc',
            lambda1=2.4,
            clip_input='clip'),
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='weaktr',
        cam=dict(
            scales=(1.0, 1.2),
            flip=True,
            flip_merge='sum',
            scale_merge='sum',
            relu_first=True,  # the fine CAM is >= 0 already
            resize_before_merge=False,
            input_resize='pil_bicubic',
            out_stride=None,
            norm='minmax',
            norm_eps=1e-8,
            bg_thr=0.43)))  # WeakTr's pseudo-mask threshold (--t 43); seeds configs sweep
# the official scripts train with DDP, find_unused_parameters: the ViT gets no gradient
find_unused_parameters = True
