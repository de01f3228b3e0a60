# PSDPM (as released) on VOC12 train_aug: images resized to 512 x 512 (no crop, no flip:
# VOC12ClsDataset(resize=(512, 512), hor_flip=False)), batch 16 (+ 21 replay slots), 32 epochs,
# lr 0.1 (x10 new layers), wd 1e-4, poly 0.9, grad clip 1, seed 10. Needs the baseline
# method's segmentation probability maps of train_aug first: one (21, H, W) float array per
# image at its original size (the official `msc_seg`, e.g. the softmax of a DeepLab trained on
# the baseline's pseudo labels), saved WITHOUT pickle as <key>.npy or <key>.npz
# (array `msc_seg`) in `baseline_dir` (or --cfg-options model.loss_terms.0.baseline_dir=DIR).
# The official validates every 300 steps on VOC train and keeps best.pth; here the last
# checkpoint is used (no validation on the scored set).
_base_ = [
    '../_base_/models/psdpm_r50.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
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
# the seeds: IS_CAM1 argmax on VOC train (eval_cam.py)
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
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
