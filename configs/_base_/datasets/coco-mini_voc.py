# coco-mini (129 train + 129 val COCO 2017 photos) in the VOC label space (20 classes +
# background), CPU-sized. Build data_root first:
#   python tools/dataset_converters/coco.py <coco-mini>/annotations/instances_train2017.json \
#       <coco-mini>/train2017 data/coco-mini-voc --label-space voc --link
#   (same for instances_val2017.json / val2017)
# -> 104 train / 105 val images (images without any VOC class are listed in
#    ImageSets/Segmentation/<split>_unlabelled.txt and left out).
#
# Variables every mmwsss dataset base defines (method configs rely on the names):
#   dataset_type, data_root, crop_size, num_classes (segmentation classes incl. background)
#   train_pipeline           classification stage: image labels only, no seg maps
#   test_pipeline            val/test: image + masks (resized; predictions go back to ori_shape)
#   pseudo_label_pipeline    CAM / pseudo-label generation: no random aug, masks for seed mIoU
#   tta_pipeline             multi-scale + flip variant of test_pipeline
#   train_dataloader         the train split (WSSSDataSample.gt_img_label, no gt_sem_seg)
#   val_dataloader           the val split with masks
#   test_dataloader          = val
#   pseudo_label_dataloader  the split whose pseudo labels are generated (train), with
#                            masks, batch_size 1, no shuffle
#   val_evaluator, test_evaluator
# The classification crop is not padded by the pipeline: set the model's
# data_preprocessor `size=crop_size` (SegDataPreprocessor) so batches are padded to it.
dataset_type = 'WSSSCOCODataset'
data_root = 'data/coco-mini-voc'
crop_size = (320, 320)
num_classes = 21

# IRN's train recipe (resize long side, flip, crop) with its ratios scaled from
# crop 512 / long side 320-640 down to crop 320, plus photometric jitter.
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizeLong', min_long=200, max_long=400),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),  # long side 320
    # masks are loaded after Resize: metrics compare at the original size
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
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='voc',
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='voc',
        ann_file='ImageSets/Segmentation/val.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        label_space='voc',
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        test_mode=True,
        pipeline=pseudo_label_pipeline))

val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
