# iSAID (15 object classes of aerial images) as a WSSS dataset through the custom dataset
# (WSSSCustomDataset), image-level labels DERIVED FROM THE MASKS (the classes present in each
# patch's label map, 0 and 255 ignored). Layout = what mmseg's converter writes
# (python tools/dataset_converters/isaid.py /path/to/iSAID -o data/iSAID in mmsegmentation:
# 896 x 896 patches, label PNGs with 0 = background, 1..15 = the classes below):
#   data/iSAID/
#     img_dir/{train,val}/P0000_0_896_0_896.png
#     ann_dir/{train,val}/P0000_0_896_0_896_instance_color_RGB.png
# The masks of train are read once, when the dataset is built, for the image labels only (the
# training pipeline never loads them); the seeds / pseudo-label split uses them for scoring.
# A labels.csv (image,labels) can replace the masks: label_file='labels.csv'.
# Which RS dataset RS-TextWS-Seg used is not in the reference (unverified): iSAID is this
# package's pick (an object-class RS benchmark; the abstract speaks of "remote sensing
# objects" described by short texts).
dataset_type = 'WSSSCustomDataset'
data_root = 'data/iSAID'
crop_size = (448, 448)
# mmseg's iSAIDDataset class order, written as text prompts (the CLIP text of each class)
class_names = ('ship', 'storage tank', 'baseball diamond', 'tennis court', 'basketball court',
               'ground track field', 'bridge', 'large vehicle', 'small vehicle', 'helicopter',
               'swimming pool', 'roundabout', 'soccer ball field', 'plane', 'harbor')
num_classes = len(class_names) + 1
_meta = dict(
    classes=('background', ) + class_names,
    palette=[[0, 0, 0], [0, 0, 63], [0, 63, 63], [0, 63, 0], [0, 63, 127], [0, 63, 191],
             [0, 63, 255], [0, 127, 63], [0, 127, 127], [0, 0, 127], [0, 0, 191], [0, 0, 255],
             [0, 191, 127], [0, 127, 191], [0, 127, 255], [0, 100, 155]])

# classification stage: the whole patch resized (a crop could drop a labelled object), flips
# in both directions (aerial views have no up)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(896, 896), keep_ratio=True),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
# CAMs / pseudo labels at the patch's own size (CLIP-ES rounds it up to multiples of 16)
pseudo_label_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(
    type=dataset_type,
    data_root=data_root,
    metainfo=_meta,
    img_suffix='.png',
    seg_map_suffix='_instance_color_RGB.png')
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline,
        **_data))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        test_mode=True,
        pipeline=test_pipeline,
        **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        test_mode=True,
        pipeline=pseudo_label_pipeline,
        **_data))
val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
