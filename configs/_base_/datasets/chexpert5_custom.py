# Chest X-ray layout for MedPrompt (its datasets CheXpert / MIMIC-CXR / COVID / RSNA are
# classification sets with no standard WSSS layout): the custom dataset (WSSSCustomDataset)
# with the five CheXpert competition findings as classes.
#   data/chexpert5/
#     images/<any path>.jpg
#     labels.csv                 image,labels  ("p1/s1.jpg,Edema;Pleural Effusion")
#     train.txt / val.txt        one image path per line (splits)
#     masks/<path>.png           optional, evaluation only (0 = background)
dataset_type = 'WSSSCustomDataset'
data_root = 'data/chexpert5'
crop_size = (224, 224)
class_names = ('Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion')
num_classes = len(class_names) + 1
_meta = dict(classes=('background', ) + class_names)

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),  # CLIP input, no crop (open)
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
pseudo_label_pipeline = test_pipeline
_data = dict(type=dataset_type, data_root=data_root, metainfo=_meta, label_file='labels.csv')
_masks = dict(img_path='images', seg_map_path='masks')
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        ann_file='train.txt',
        data_prefix=dict(img_path='images', seg_map_path=None),
        pipeline=train_pipeline,
        **_data))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        ann_file='val.txt', data_prefix=_masks, test_mode=True, pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = val_dataloader
val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
