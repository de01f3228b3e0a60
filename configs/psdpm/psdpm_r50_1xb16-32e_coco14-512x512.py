# PSDPM (as released) on COCO 2014 (80 classes, 81 replay slots), batch 16, 32 epochs (the
# train script's defaults for both datasets), lr 0.1 (x10), wd 1e-4, poly 0.9, clip 1, seed 10.
# The official COCO loader crops (resize_long (320, 640), random crop 512; its hor_flip flag is
# never applied) yet resizes the whole-image baseline map onto the crop grid, which misaligns
# them; here COCO uses the VOC whole-image 512 x 512 resize, the only layout in which the maps
# line up (README: differences). Baseline maps: one (81, H, W) float array per image
# (<key>.npy or <key>.npz with `msc_seg`, no pickle) in `baseline_dir`.
_base_ = [
    '../_base_/models/psdpm_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(psdpm=dict(num_classes=num_fg_classes)),
    loss_terms=[
        dict(
            type='PSDPMTerm',
            name='psdpm',
            branch='net',
            cam='psdpm',
            baseline_dir='work_dirs/psdpm_baseline_coco14',
            baseline_bg='one_minus_max',
            scale2=0.5,
            gsc_weight=2.0,
            cons_weight=0.4,
            proto_weight=0.05,
            replay=dict(num_slots=num_fg_classes + 1, seed=0),
            use_replay=True),
    ])
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
max_epochs = 32
train_dataloader = dict(batch_size=16, drop_last=True, dataset=dict(pipeline=train_pipeline))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
randomness = dict(seed=10)
