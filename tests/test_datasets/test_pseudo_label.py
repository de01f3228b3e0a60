import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mmwsss.datasets.class_names import VOC_CLASSES
from mmwsss.registry import DATASETS
from mmwsss.testing.data import make_voc_tiny

init_default_scope('mmwsss')

PIPELINE = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs')
]


def _pseudo(root, ids, value=15):
    pl_dir = osp.join(root, 'pseudo')
    os.makedirs(pl_dir, exist_ok=True)
    for i, name in enumerate(ids):
        arr = np.zeros((24, 32), np.uint8)
        arr[:, :i + 1] = value
        Image.fromarray(arr).save(osp.join(pl_dir, name + '.png'))
    return pl_dir


def _build(root, **kwargs):
    cfg = dict(
        type='PseudoLabelDataset',
        data_root=root,
        label_space='voc',
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='pseudo'),
        pipeline=PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_pseudo_labels_are_the_seg_maps(tmp_path):
    info = make_voc_tiny(str(tmp_path), num_images=4)
    _pseudo(info['data_root'], info['ids'])
    ds = _build(info['data_root'])
    assert len(ds) == 4 and ds.metainfo['classes'] == VOC_CLASSES
    assert 'gt_img_label' not in ds.get_data_info(0)
    seg = ds[2]['data_samples'].gt_sem_seg.data[0].numpy()
    assert (seg[:, :3] == 15).all() and (seg[:, 3:] == 0).all()
    # image labels on request
    ds = _build(info['data_root'], label_file='cls_labels.json')
    assert ds[1]['data_samples'].img_labels == [7, 11]


def test_missing_pseudo_labels_listed(tmp_path):
    info = make_voc_tiny(str(tmp_path), num_images=4)
    pl_dir = _pseudo(info['data_root'], info['ids'])
    os.remove(osp.join(pl_dir, 'img_1.png'))
    os.remove(osp.join(pl_dir, 'img_3.png'))
    with pytest.raises(FileNotFoundError, match=r'2 pseudo label\(s\).*img_1.png, .*img_3.png'):
        _build(info['data_root'])


def test_bad_values_and_config(tmp_path):
    info = make_voc_tiny(str(tmp_path), num_images=2)
    _pseudo(info['data_root'], info['ids'], value=21)
    ds = _build(info['data_root'])
    with pytest.raises(ValueError, match=r'img_0.png holds class indices \[21\]'):
        ds[0]
    with pytest.raises(ValueError, match='label_space'):
        _build(info['data_root'], label_space=None)
    with pytest.raises(ValueError, match='seg_map_path'):
        _build(info['data_root'], data_prefix=dict(img_path='JPEGImages'))
    # explicit classes instead of a label space
    ds = _build(
        info['data_root'],
        label_space=None,
        metainfo=dict(classes=('background', ) + tuple(f'c{i}' for i in range(30))))
    assert ds[0]['data_samples'].gt_sem_seg.data.max().item() == 21
