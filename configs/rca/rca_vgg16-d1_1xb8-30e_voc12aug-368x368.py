# RCA stage 1 (the classification network that accumulates the attention maps) on PASCAL
# VOC 2012 + SBD, as maeve07/RCA train.py: VGG-16 D1, batch 8, every image resized to
# 368 x 368 with ColorJitter only, the list in its file order (the official loader does not
# shuffle), 30 epochs = 30 x 1,323 iterations, lr x0.1 at epochs 5 and 10.
#   python3 tools/train.py configs/rca/rca_vgg16-d1_1xb8-30e_voc12aug-368x368.py
# The accumulated maps land in att_dir; tools/rca_gen_labels.py turns them into pseudo
# labels (CRF, optional saliency folder), scored by tools/eval_pseudo_labels.py.
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rca_vgg16-d1.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
iters_per_epoch = 1323
num_epochs = 30
max_iters = iters_per_epoch * num_epochs
att_dir = 'work_dirs/rca_voc12aug/att'
# -----------------------------
model = dict(
    cam_heads=dict(main=dict(iters_per_epoch=iters_per_epoch)),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main', weight=1.0),
        dict(type='ClsTerm', name='cls_coarse', cam='coarse', weight=0.4),
        dict(
            type='RCAContrastTerm',
            name='contrast',
            weight=0.01,
            schedule=dict(type='StepOn', start=2 * iters_per_epoch, strict=False)),
        dict(
            type='RCAAttentionTerm',
            name='oaa',
            att_dir=att_dir,
            iters_per_epoch=iters_per_epoch,
            num_epochs=num_epochs),
    ])

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(368, 368), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
# seeds and accumulated maps are both on the network's 368 x 368 input, resized back
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(368, 368), keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),  # 1,323 batches per epoch, the last of 6
    dataset=dict(pipeline=train_pipeline, **_data))
# seeds are scored on VOC train (1,464 images with masks), EPS's protocol (reference §4)
test_dataloader = dict(
    batch_size=1,
    dataset=dict(ann_file='ImageSets/Segmentation/train.txt', pipeline=test_pipeline, **_data))
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='MultiStepLR',
        milestones=[5 * iters_per_epoch, 10 * iters_per_epoch],
        gamma=0.1,
        by_epoch=False)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=iters_per_epoch, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)
