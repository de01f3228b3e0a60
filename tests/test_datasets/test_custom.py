import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mmwsss.registry import DATASETS

init_default_scope('mmwsss')

CLASSES = ('cat', 'dog', 'traffic light')


def _make(root, with_masks=False):
    os.makedirs(osp.join(root, 'images', 'street'))
    for name in ('a.jpg', 'b.jpg', 'street/c.jpg'):
        Image.new('RGB', (6, 4), (10, 20, 30)).save(osp.join(root, 'images', name))
    with open(osp.join(root, 'labels.csv'), 'w') as f:
        f.write('image,labels\n'
                'a.jpg,cat\n'
                'street/c.jpg,dog; traffic light\n'
                'b.jpg,cat dog\n')
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('# my classes\ncat\ndog\n\ntraffic light\n')
    if with_masks:
        os.makedirs(osp.join(root, 'masks', 'street'))
        for name, value in (('a', 1), ('b', 2), ('street/c', 3)):
            arr = np.zeros((4, 6), np.uint8)
            arr[1:3, 1:4] = value
            Image.fromarray(arr).save(osp.join(root, 'masks', name + '.png'))
    return root


def _build(root, **kwargs):
    cfg = dict(
        type='WSSSCustomDataset',
        data_root=root,
        label_file='labels.csv',
        metainfo=dict(classes=CLASSES))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _fg(ds):
    return [np.flatnonzero(ds.get_data_info(i)['gt_img_label']).tolist() for i in range(len(ds))]


def test_csv_labels(tmp_path):
    root = _make(str(tmp_path))
    ds = _build(root)
    assert ds.metainfo['classes'] == ('background', ) + CLASSES
    assert ds.metainfo['palette'][0] == [0, 0, 0] and len(ds.metainfo['palette']) == 4
    # label-file order; ';' keeps the space inside 'traffic light'
    assert [
        osp.relpath(ds.get_data_info(i)['img_path'], osp.join(root, 'images')) for i in range(3)
    ] == ['a.jpg', 'street/c.jpg', 'b.jpg']
    assert _fg(ds) == [[0], [1, 2], [0, 1]]
    assert ds.get_data_info(0)['seg_map_path'] is None


def test_classes_file_json_and_split(tmp_path):
    root = _make(str(tmp_path))
    with open(osp.join(root, 'labels.json'), 'w') as f:
        json.dump({'b.jpg': ['dog'], 'a.jpg': [0, 2]}, f)
    ds = _build(root, label_file='labels.json', metainfo=None, classes_file='classes.txt')
    assert ds.metainfo['classes'] == ('background', ) + CLASSES
    assert _fg(ds) == [[1], [0, 2]]
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write('b.jpg\n')
    ds = _build(root, ann_file='split.txt')
    assert _fg(ds) == [[0, 1]]


def test_masks_and_labels_from_masks(tmp_path):
    root = _make(str(tmp_path), with_masks=True)
    prefix = dict(img_path='images', seg_map_path='masks')
    ds = _build(root, data_prefix=prefix)
    assert ds.get_data_info(1)['seg_map_path'] == osp.join(root, 'masks', 'street/c.png')
    ds = _build(root, data_prefix=prefix, label_file=None)  # lists images/, sorted
    assert _fg(ds) == [[0], [1], [2]]
    ds = _build(
        root,
        data_prefix=prefix,
        pipeline=[
            dict(type='LoadWSSSImageFromFile'),
            dict(type='LoadWSSSAnnotations'),
            dict(type='PackWSSSInputs')
        ])
    sample = ds[1]['data_samples']
    assert sample.img_labels == [1, 2] and sample.gt_sem_seg.data.max().item() == 3


def test_errors(tmp_path):
    root = _make(str(tmp_path))
    with open(osp.join(root, 'bad.csv'), 'w') as f:
        f.write('image,labels\na.jpg,cat\nb.jpg,cat;zebra\n')
    with pytest.raises(ValueError, match=r"bad.csv line 3 \[b.jpg\].*'zebra'"):
        _build(root, label_file='bad.csv')
    with open(osp.join(root, 'nohead.csv'), 'w') as f:
        f.write('a.jpg,cat\n')
    with pytest.raises(ValueError, match='columns "image" and "labels"'):
        _build(root, label_file='nohead.csv')
    with open(osp.join(root, 'ghost.csv'), 'w') as f:
        f.write('image,labels\na.jpg,cat\nghost.jpg,dog\n')
    with pytest.raises(FileNotFoundError, match='ghost.jpg'):
        _build(root, label_file='ghost.csv')
    with pytest.raises(ValueError, match='classes_file'):
        _build(root, metainfo=None)
    with pytest.raises(ValueError, match='first class'):
        _build(root, metainfo=dict(classes=('cat', 'background')))
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write('a.jpg\nd.jpg\n')
    with pytest.raises(KeyError, match='d.jpg'):
        _build(root, ann_file='split.txt')
