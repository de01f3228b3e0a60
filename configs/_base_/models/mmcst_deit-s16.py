# MMCST (Xu et al., CVPR'23: multi-modal class-specific tokens) on the single-stage chassis.
# NOT FROM RELEASED CODE: the MMCST repository could not be read (reference
# methods-foundation.md §8). The base is MCTformer-V2 as its official code does it
# (xulianuwa/MCTformer models.py, engine.py, main.py, read there): DeiT-S/16 with one class
# token per class (position rows = the pretrained class row), tokens BEFORE the final norm,
# class-token logits = mean over the channels, PatchCAM = 3x3 conv + GAP, both trained by
# MultiLabelSoftMarginLoss; maps = class-to-patch attention (last 3 blocks) x relu(PatchCAM),
# refined by the patch-to-patch attention of all 12 blocks. MMCST adds C text tokens (frozen
# CLIP prompt embeddings, learned linear projection), sample-specific visual and
# image-language contexts and two contrastive terms: every choice the paper leaves open is an
# option below, listed with its reason in configs/mmcst/README.md.
num_fg_classes = 20
embed_dim = 384
mmcst_crop_size = (224, 224)
pretrained = 'checkpoints/deit-s16_in1k_mmwsss.pth'  # tools/model_converters/vit_timm.py
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'  # the user's OpenAI CLIP ViT-B/16
clip_arch = 'ViT-B-16'
voc_names = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor'
]
prompt_templates = ['a photo of a {}.']
token_mode = 'both'  # 2C class tokens: [visual 0..C-1, text 0..C-1]
text_offset = num_fg_classes  # first text token (None for token_mode 'sum' / 'visual')
depth = 12

model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=mmcst_crop_size,
        pad_val=0,
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='MMCSTViT',
        vit=dict(type='timm', model_name='deit_small_patch16_224', drop_path_rate=0.1),
        num_classes=num_fg_classes,
        class_names=voc_names,
        clip=dict(type='OpenCLIP', arch=clip_arch, checkpoint=clip_checkpoint, quick_gelu=True),
        templates=prompt_templates,
        token_mode=token_mode,
        visual_context='patch_mean',
        language_context='clip_image',
        clip_size=224,
        # MCTformer reads the last block's tokens before the final norm (no self.norm)
        out_blocks=(-1, ),
        out_norm=False,
        attn_blocks=tuple(range(depth)),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(
        # PatchCAM logits + the localisation map used for the seeds
        main=dict(
            type='MMCSTHead',
            in_channels=embed_dim,
            in_index=0,
            num_classes=num_fg_classes,
            cam_type='fused',
            token_maps='sum',
            text_offset=text_offset,
            attn_layers=3,  # --layer-index 3 for the maps
            refine=True),  # --patch-attn-refine
        visual=dict(type='MMCSTTokenHead', num_classes=num_fg_classes, offset=0, attn_layers=3),
        text=dict(
            type='MMCSTTokenHead', num_classes=num_fg_classes, offset=text_offset, attn_layers=3)),
    decode_head=None,
    loss_terms=[
        # MCTformer-V2: loss = MLSM(class-token logits) + MLSM(PatchCAM logits)
        dict(type='ClsTerm', name='cls_visual', cam='visual', weight=1.0),
        dict(type='ClsTerm', name='cls_text', cam='text', weight=1.0),
        dict(type='ClsTerm', name='cls_patch', cam='main', weight=1.0),
        dict(
            type='MMCSTTextVisualTerm',
            name='tv',
            num_classes=num_fg_classes,
            text_offset=text_offset,
            tau=0.07,
            anchors='present',
            weight=0.1),
        dict(
            type='MMCSTClassTokenTerm', name='ctc', num_classes=num_fg_classes, tau=0.1,
            weight=0.1),
    ],
    # MCTformer's map generation: scale 1.0 + flip (each upsampled bilinearly to the image,
    # summed), per-class min-max; GT labels mask the absent classes
    test_cfg=dict(
        mode='whole',
        predict_source='cam',
        cam_head='main',
        cam=dict(
            preset='toco',
            scales=(1.0, ),
            flip_merge='sum',
            input_resize='scale_factor',
            norm_eps=1e-8,  # MCTformer: (x - min) / (max - min + 1e-8)
            bg_thr=0.5)))

# MCTformer main.py: timm create_optimizer(AdamW, lr 5e-4 x batch / 512, wd 0.05, eps 1e-8);
# timm puts 1-d parameters (norms, biases) and no_weight_decay() = pos_embed, cls_token in a
# no-decay group
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6.25e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0)
        }))
