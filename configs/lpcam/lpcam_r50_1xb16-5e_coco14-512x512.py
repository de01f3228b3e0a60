# LPCAM on COCO 2014 (run_sample_coco.py, step_coco/make_lpcam.py): IRN's CAM ResNet-50 with
# 80 classes trained on train2014 (5 epochs, batch 16, crop 512, lr 0.1 / head x10,
# wd 1e-4), then the offline path with the COCO settings: 100 images per class sampled
# with replacement (seed 666), K 20, select_thres 0.25, class_thres 0.9, context
# 0 < p < 0.5. Commands as in lpcam_r50_1xb16-5e_voc12aug-512x512.py.
_base_ = [
    '../_base_/models/lpcam_r50.py',
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_irn_cam.py',
]
num_fg_classes = 80
model = dict(decode_head=dict(num_classes=num_fg_classes))
prototype_cfg = dict(dataset='coco')
train_dataloader = dict(batch_size=16)
# the sample is drawn from the training images (only the sampled ones are dumped)
prototype_dump_dataloader = dict(
    batch_size=1,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        label_space='coco',
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None),
        test_mode=True,
        pipeline={{_base_.pseudo_label_pipeline}}))
test_dataloader = {{_base_.pseudo_label_dataloader}}
test_evaluator = dict(type='CAMMetric')
max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
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
