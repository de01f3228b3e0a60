# Cityscapes for driving-scene WSSS (CARB, Kim et al. AAAI'24): 19 train classes, NO
# background class, image labels derived from the gtFine train-id masks (WSSSCityscapesDataset
# reads every mask once when the dataset is built). Layout (mmseg's Cityscapes convention;
# mmsegmentation's tools/dataset_converters/cityscapes.py writes the labelTrainIds files):
#   data/cityscapes/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
#   data/cityscapes/gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png  (255 = ignore)
# The training pipeline never loads the masks: the model sees the image labels only.
#
# Variables every mmwsss dataset base defines (method configs rely on the names):
#   dataset_type, data_root, crop_size, num_classes (here 19: no background)
#   train_pipeline, test_pipeline, pseudo_label_pipeline, tta_pipeline,
#   train_dataloader, val_dataloader, test_dataloader, pseudo_label_dataloader,
#   val_evaluator, test_evaluator
# Pipelines: CARB's cityscapes_carb_dual.py (mmseg 0.x) in mmseg 1.x terms: resize
# (2048, 1024) x [0.5, 2.0] keeping the ratio, crop 512x1024 (cat_max_ratio 1), flip 0.5,
# photometric distortion; test at (2048, 1024), whole image. Set the model's data
# preprocessor `size=crop_size` so batches are padded to the crop.
dataset_type = 'WSSSCityscapesDataset'
data_root = 'data/cityscapes'
crop_size = (512, 1024)
num_classes = 19

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    # masks are loaded after Resize: metrics compare at the original size
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
pseudo_label_pipeline = test_pipeline
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
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
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
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
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        test_mode=True,
        pipeline=pseudo_label_pipeline))

val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
