# LPCAM on VOC12 (zhaozhengChen/LPCAM run_sample.py): IRN's CAM ResNet-50 trained on train_aug
# (5 epochs, batch 16, crop 512, resize_long (320, 640), lr 0.1 / head x10, wd 1e-4, poly 0.9),
# then the offline path:
#   python tools/train.py THIS_CONFIG                                   # the CAM network
#   python tools/make_prototype_cams.py THIS_CONFIG CAM_CKPT --work-dir work_dirs/lpcam_voc
#       (features of VOC train (1,464 images), k-means 12 per class and pool, LPCAMs of
#        train_aug)
#   python tools/test.py THIS_CONFIG CAM_CKPT \
#       --cfg-options model.prototype_dir=work_dirs/lpcam_voc/prototypes   # seeds, VOC train
_base_ = [
    '../_base_/models/lpcam_r50.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_irn_cam.py',
]
train_dataloader = dict(batch_size=16)
# the prototypes are clustered from VOC train (voc12/train.txt in save_feature)
prototype_dump_dataloader = dict(
    batch_size=1,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None),
        test_mode=True,
        pipeline={{_base_.pseudo_label_pipeline}}))
# seeds are scored on VOC train (1,464 images) with the bg-threshold sweep (LPCAM: 0.3)
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
