# LUAD-HistoSeg as released (training/ patches with "[1 0 0 1]" labels in their names; val/ and
# test/ with img/ + mask/, raw mask 4 = background), read directly by LUADHistoSegDataset.
# PBIP released no LUAD config; the layout is WSSS-Tissue's.
dataset_type = 'LUADHistoSegDataset'
data_root = 'data/LUAD-HistoSeg'
crop_size = (224, 224)
num_classes = 5  # background + TE, NEC, LYM, TAS
# the reference gives no LUAD-HistoSeg statistics: PBIP's BCSS-WSSS ones (a marked choice)
histo_mean = [0.668 * 255, 0.478 * 255, 0.706 * 255]
histo_std = [0.174 * 255, 0.226 * 255, 0.198 * 255]

# PBIP's training augmentation: horizontal flip, vertical flip, RandomRotate90 (patches are
# already 224 x 224)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate90', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
pseudo_label_pipeline = test_pipeline

train_dataloader = dict(
    batch_size=10,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='training', seg_map_path=None),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        test_mode=True,
        pipeline=test_pipeline))
# CAMs of the training patches (no masks there: labels from the names)
pseudo_label_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='training', seg_map_path=None),
        test_mode=True,
        pipeline=[dict(type='LoadWSSSImageFromFile'),
                  dict(type='PackWSSSInputs')]))

# PBIP's metric: mIoU over the tissue classes, background in the matrix but not the mean
val_evaluator = dict(type='CAMMetric', source='pred_sem_seg', exclude_background=True)
test_evaluator = val_evaluator
