# CLIMS (Xie et al., CVPR'22), the improved version at the root of CVI-SZU/CLIMS
# (step/train_clims.py, clip_loss.py, clip_utils.py, net/resnet50_clims.py; reference
# methods-foundation.md §4) on the single-stage chassis:
#   classifier  IRN-style ResNet-50 (strides conv1 2 / layer2 2 / layer3 2 / layer4 1 ->
#               output stride 16), 1x1 conv 2048 -> 20 without bias; sigmoid maps.
#               BN is NOT fixed (net/resnet50_v2.py: plain BatchNorm2d in train mode);
#               conv1 + bn1 do not train (frozen_stages=0: the stem).
#               Initialised from the baseline CAM classifier (res50_cam.pth: here the
#               checkpoint of configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py, whose keys
#               are backbone.* / decode_head.conv_seg.weight).
#   CLIP        frozen OpenAI ViT-B/32 (open_clip 'ViT-B-32' + QuickGELU), 224 input, fed
#               the ImageNet-normalised crop masked by the map (no CLIP re-normalisation).
#   losses      CLIMSTerm: 10 L_OTM + 24 L_BTM + 1 L_CBS (tau 0.26) + 0.2 L_REG, no
#               classification loss.
#   inference   IRN's make_cam: relu(W f), flip summed, scales (1.0, 0.5, 1.5, 2.0)
#               summed, per-class max normalisation; eval bg threshold 0.15.
num_fg_classes = 20
clims_crop_size = (512, 512)
# user files (nothing is downloaded): OpenAI CLIP ViT-B/32 (TorchScript .pt or a state
# dict) and the baseline CAM checkpoint CLIMS starts from
clip_checkpoint = 'checkpoints/clip/ViT-B-32.pt'
cam_checkpoint = 'work_dirs/cam_r50_1xb16-5e_voc12aug-512x512/epoch_5.pth'
model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB (IRN TorchvisionNormalize)
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=clims_crop_size,
        pad_val=0,  # IRN pads the normalised crop with zeros
        seg_pad_val=255,
        raw_pad_val=0,
        num_classes=num_fg_classes),
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        frozen_stages=0,  # conv1 + bn1 (requires_grad=False in CLIMS.train)
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,  # resnet50_v2: "not fix bn"
        init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='backbone.')),
    cam_heads=dict(
        clims=dict(
            type='CAMHead',
            in_channels=2048,
            in_index=-1,
            num_classes=num_fg_classes,
            pool='gap',  # logits unused: CLIMS has no classification loss
            init_cfg=dict(type='Pretrained', checkpoint=cam_checkpoint, prefix='decode_head.'))),
    loss_terms=[
        dict(
            type='CLIMSTerm',
            name='clims',
            cam='clims',
            clip=dict(
                type='OpenCLIP', arch='ViT-B-32', quick_gelu=True, checkpoint=clip_checkpoint),
            dataset='voc',
            version='root',
            loss_weights=(10.0, 24.0, 1.0, 0.2),  # --hyper 10,24,1,0.2
            cbs_thr=0.26,
            clip_size=224,
            clip_input='inputs'),
    ],
    test_cfg=dict(
        mode='whole', predict_source='cam', cam_head='clims', cam=dict(preset='irn', bg_thr=0.15)))
# torchutils.PolyOptimizer (SGD): backbone lr 2.5e-4, classifier x10, wd 1e-4, poly 0.9 per
# step (mmengine PolyLR). The official SGD(params, lr, weight_decay) call makes momentum =
# wd = 1e-4 (the PSA-family quirk): the default is plain SGD, momentum 0, wd 1e-4 per group;
# `optim_wrapper.optimizer.momentum_quirk=True` reproduces the quirk. No gradient clipping.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='PolySGD', lr=2.5e-4, momentum=0.0, weight_decay=1e-4, momentum_quirk=False),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0, decay_mult=1.0),
        'cam_heads': dict(lr_mult=10.0, decay_mult=1.0)
    }))
