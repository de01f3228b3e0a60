# IRN-style ResNet-50 CAM classifier (reference methods-consistency §1.2):
# torchvision-style ResNet-50 with strides (conv1 2, layer2 2, layer3 2, layer4 1)
# -> output stride 16; all BN frozen (FixedBatchNorm = norm_eval); conv1..layer2
# frozen (IRN detaches the stage-2 output); 1x1 classifier 2048 -> 20, no bias;
# GAP; multi-label soft-margin loss.
num_fg_classes = 20  # foreground classes (num_classes of the dataset includes background)
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        frozen_stages=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    decode_head=dict(
        type='CAMHead',
        in_channels=2048,
        in_index=0,
        num_classes=num_fg_classes,
        pool='gap',
        loss_decode=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0)),
    train_cfg=dict(),
    # IRN CAM inference: scales (1.0, 0.5, 1.5, 2.0), flip summed, scales summed,
    # per-class max normalisation, cam_eval_thres 0.15.
    test_cfg=dict(preset='irn', bg_thr=0.15))
