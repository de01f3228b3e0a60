# MS-COCO 2014 in the 'coco' label space (80 classes + background), converted with
#   python tools/dataset_converters/coco.py annotations/instances_train2014.json train2014 \
#       data/coco14 --label-space coco --link
#   python tools/dataset_converters/coco.py annotations/instances_val2014.json val2014 \
#       data/coco14 --label-space coco --link
# (images without any annotation are listed in ImageSets/Segmentation/<split>_unlabelled.txt).
#
# Variables every mmwsss dataset base defines (method configs rely on the names):
#   dataset_type, data_root, crop_size, num_classes (segmentation classes incl. background)
#   train_pipeline, test_pipeline, pseudo_label_pipeline, tta_pipeline
#   train_dataloader         train, image labels only (no gt_sem_seg)
#   val_dataloader           val with masks;  test_dataloader = val
#   pseudo_label_dataloader  train with masks, batch 1, no aug
#   val_evaluator, test_evaluator
# The crop is not padded by the pipeline: set the model's data_preprocessor
# `size=crop_size` so batches are padded to it.
dataset_type = 'WSSSCOCODataset'
data_root = 'data/coco14'
crop_size = (512, 512)
num_classes = 81

# IRN's COCO recipe is the VOC one: resize long side to [320, 640], h-flip, crop 512.
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=320, max_long=640),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
pseudo_label_pipeline = test_pipeline
img_ratios = [0.5, 1.0, 1.5, 2.0]
tta_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal'),
            ],
            [dict(type='LoadWSSSAnnotations')],
            [dict(type='PackWSSSInputs')],
        ]),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='coco',
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='coco',
        ann_file='ImageSets/Segmentation/val.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='coco',
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline=pseudo_label_pipeline))

val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
