# BECO (Rong et al., CVPR'23, ShenghaiRong/BECO): two independent DeepLabV3+ networks
# co-trained on offline pseudo labels (IRN) + a per-pixel confidence mask, with
# boundary-enhanced ClassMix. The chassis mapping (configs/beco/README.md):
#   networks 'student'/'teacher'      -> branches b1 / b2 (no CAM heads)
#   imgmix_*_bdry + augment_withmask  -> batch_mixers=[BECOClassMix] (before the branches)
#   batch['target'] / ['mask'] / bdry -> label sources pl / conf / bdry (SampleFieldSource)
#   CE1 + CE2 + COT1 + COT2           -> BECOTerm
#   forward_cat_test                  -> test_cfg predictor BranchMeanPredictor
# Networks (configs/deeplab/deeplabv3plus_st.json): ResNet-v1d-101 (mmcls weights), output
# stride 16 with multi-grid (1, 2, 4), separable ASPP (6, 12, 18), 256 channels, low-level
# 48 channels from stage 1, dropout 0.1, align_corners False, SyncBN.
iters_per_epoch = 661  # VOC train_aug 10,582 // 16 (drop_last); dataset configs override
pretrained = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnetv1d101_b32x8_imagenet_20210531-6e13bcd3.pth')
norm_cfg = dict(type='SyncBN', requires_grad=True)
_net = dict(
    backbone=dict(
        type='mmseg.ResNetV1d',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        multi_grid=(1, 2, 4),
        contract_dilation=False,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(
        type='mmseg.DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        # unused: BECOTerm computes the losses; mmseg's head requires one
        loss_decode=dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
model = dict(
    type='SingleStageWSSS',
    data_preprocessor=dict(
        type='WSSSDataPreProcessor',
        # torchvision Normalize(ImageNet mean/std) on RGB
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(512, 512),
        num_classes=20),
    branches=dict(b1=_net, b2=dict(**_net)),
    batch_mixers=[
        dict(
            type='BECOClassMix',
            prob=0.5,  # mix_prob
            ignore_bg=True,
            boundary_size=1,  # bdry_size: 3x3 dilate - erode
            online_thr=0.95,  # highres_t
            # warm_up = 1 epoch: online labels from the first iteration of epoch 1
            online=dict(type='StepOn', start=iters_per_epoch, strict=False),
            branches=('b1', 'b2'),
            photometric=dict(type='AlbuPhotometric')),  # mix_aug
    ],
    label_sources=dict(
        pl=dict(type='SampleFieldSource', field='gt_sem_seg'),
        conf=dict(type='SampleFieldSource', field='gt_conf_mask'),
        bdry=dict(type='SampleFieldSource', field='gt_boundary', dtype='float', default=0.0)),
    loss_terms=[
        dict(
            type='BECOTerm',
            name='beco',
            branches=('b1', 'b2'),
            label='pl',
            mask='conf',
            boundary='bdry',
            ce_boundary_weights=(0.2, 0.2),  # bdry_whb, bdry_whi
            cot_boundary_weights=(0.0, 0.0)),  # bdry_wlb, bdry_wli
    ],
    test_cfg=dict(
        mode='whole',
        predict_source='predictor',
        # the mean of both nets' logits; BECO's test_msc (off by default):
        # scales=[0.5, 0.75, 1.0, 1.25, 1.5]
        predictor=dict(type='BranchMeanPredictor', branches=('b1', 'b2'), scales=None)))
