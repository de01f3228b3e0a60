# POT (as released) on COCO 2014 (80 classes). The official COCO loader crops and flips
# (resize_long (320, 640), crop 512) yet resizes the whole-image CLIP-ES CAM onto the crop
# grid, which misaligns them; here COCO uses the VOC whole-image 512 x 512 resize, the only
# layout in which the CLIP maps line up (README: differences).
#   python tools/generate_pseudo_labels.py \
#       configs/clip_es/clip-es_vit-b16_1xb1-trainfree_coco-ori.py \
#       --out-dir work_dirs/clip-es_coco14/pseudo_labels --save-cams
_base_ = [
    '../_base_/models/pot_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
]
num_fg_classes = 80
model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    cam_heads=dict(
        pot=dict(num_classes=num_fg_classes,
                 clip_cam_dir='work_dirs/clip-es_coco14/pseudo_labels')))
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
max_epochs = 6
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
randomness = dict(seed=15)
