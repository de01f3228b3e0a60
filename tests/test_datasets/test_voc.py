import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmwsss.datasets import WSSSVOCDataset
from mmwsss.datasets.class_names import VOC_CLASSES, voc_colormap
from mmwsss.datasets.converters.coco import write_mask_atomic
from mmwsss.registry import DATASETS
from mmwsss.testing.data import make_voc_tiny

init_default_scope('mmwsss')

SPLIT = 'ImageSets/Segmentation/train.txt'
FULL_PIPELINE = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs')
]


@pytest.fixture
def voc(tmp_path):
    return make_voc_tiny(str(tmp_path / 'voc'), num_images=4)


def _build(info, **kwargs):
    cfg = dict(type='WSSSVOCDataset', data_root=info['data_root'], ann_file=SPLIT)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _fg(ds, i):
    return np.flatnonzero(ds.get_data_info(i)['gt_img_label']).tolist()


def test_tiny_data_hand_checked(voc):
    # the synthetic layouts: person / cat+dog / aeroplane / car+person (+ ignore corner)
    assert voc['labels'] == {'img_0': [14], 'img_1': [7, 11], 'img_2': [0], 'img_3': [6, 14]}
    assert voc['masks']['img_3'][0, 0] == 255 and voc['masks']['img_1'][23, 31] == 12


@pytest.mark.parametrize('label_file', ['cls_labels.json', 'cls_labels.npy', None])
def test_labels_from_file_or_masks(voc, label_file):
    ds = _build(voc, label_file=label_file)
    assert len(ds) == 4
    assert ds.metainfo['classes'] == VOC_CLASSES and ds.metainfo['classes'][0] == 'background'
    assert len(ds.metainfo['palette']) == 21 and ds.metainfo['palette'][1] == [128, 0, 0]
    for i, name in enumerate(voc['ids']):
        info = ds.get_data_info(i)
        assert info['gt_img_label'].dtype == np.float32 and info['gt_img_label'].shape == (20, )
        assert _fg(ds, i) == voc['labels'][name]
        assert info['seg_map_path'].endswith(f'SegmentationClass/{name}.png')
        assert info['num_classes'] == 21
    assert ds.get_cat_ids(1) == [7, 11]


def test_without_masks(voc):
    ds = _build(
        voc,
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None))
    assert all(ds.get_data_info(i)['seg_map_path'] is None for i in range(len(ds)))
    with pytest.raises(ValueError, match='no image labels'):
        _build(voc, data_prefix=dict(img_path='JPEGImages', seg_map_path=''))


def test_getitem_packs_everything(voc):
    ds = _build(voc, label_file='cls_labels.npy', pipeline=FULL_PIPELINE)
    out = ds[3]
    sample = out['data_samples']
    assert out['inputs'].shape == (3, 24, 32)
    assert sample.img_labels == [6, 14]
    assert sample.gt_img_label.tolist() == [1.0 if k in (6, 14) else 0.0 for k in range(20)]
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), voc['masks']['img_3'])


def test_irn_integer_keys(tmp_path):
    info = make_voc_tiny(str(tmp_path), num_images=2)
    # IRN stores ids as ints: '2007_000032' -> 2007000032
    for old, new in (('img_0', '2007_000032'), ('img_1', '2008_000123')):
        for sub, ext in (('JPEGImages', '.jpg'), ('SegmentationClass', '.png')):
            os.rename(
                osp.join(str(tmp_path), sub, old + ext), osp.join(str(tmp_path), sub, new + ext))
    with open(osp.join(str(tmp_path), SPLIT), 'w') as f:
        f.write('2007_000032\n2008_000123\n')
    vec = np.zeros(20, np.float32)
    vec[[3, 5]] = 1
    np.save(osp.join(str(tmp_path), 'irn.npy'), {2007000032: vec, 2008000123: vec * 0})
    ds = _build(info, label_file='irn.npy')
    assert _fg(ds, 0) == [3, 5] and _fg(ds, 1) == []


def test_errors(voc):
    root = voc['data_root']
    # an id in the split list without image
    with open(osp.join(root, 'ImageSets/Segmentation/bad.txt'), 'w') as f:
        f.write('img_0\nghost_7\n')
    with pytest.raises(FileNotFoundError, match='ghost_7.jpg'):
        _build(voc, ann_file='ImageSets/Segmentation/bad.txt', label_file='cls_labels.json')
    # unknown class name in the label file
    with open(osp.join(root, 'names.json'), 'w') as f:
        json.dump({'img_0': ['person'], 'img_1': ['cat', 'unicorn'], 'img_2': [], 'img_3': [0]}, f)
    with pytest.raises(ValueError, match=r"names.json \[img_1\].*'unicorn'"):
        _build(voc, label_file='names.json')
    # an image missing from the label file
    with open(osp.join(root, 'few.json'), 'w') as f:
        json.dump({'img_0': ['person']}, f)
    with pytest.raises(KeyError, match='3 image.*few.json'):
        _build(voc, label_file='few.json')
    # wrong vector length in a cls_labels.npy
    np.save(osp.join(root, 'short.npy'), {k: np.zeros(5) for k in voc['ids']})
    with pytest.raises(ValueError, match='length 5, expected 20'):
        _build(voc, label_file='short.npy')
    # class subsets are refused
    with pytest.raises(ValueError, match='fixed classes'):
        _build(voc, label_file='cls_labels.json', metainfo=dict(classes=('background', 'cat')))
    with pytest.raises(ValueError, match='reduce_zero_label'):
        _build(voc, label_file='cls_labels.json', reduce_zero_label=True)


def _write_mask(root, name, arr):
    write_mask_atomic(
        osp.join(root, 'SegmentationClass', name + '.png'), arr.astype(np.uint8), voc_colormap(256))


def test_bad_masks(voc):
    root = voc['data_root']
    # a class index out of range while deriving labels from the masks
    bad = voc['masks']['img_2'].copy()
    bad[0, 0] = 42
    _write_mask(root, 'img_2', bad)
    with pytest.raises(ValueError, match=r'img_2.png holds class indices \[42\]'):
        _build(voc)
    # with a label file the masks are only read when loaded, and checked there
    ds = _build(voc, label_file='cls_labels.json', pipeline=FULL_PIPELINE)
    with pytest.raises(ValueError, match=r'img_2.png holds class indices \[42\]'):
        ds[2]
    # ... or all at once with check_masks=True
    with pytest.raises(ValueError, match='img_2.png'):
        _build(voc, label_file='cls_labels.json', check_masks=True)
    # a mask whose size differs from its image
    _write_mask(root, 'img_2', np.zeros((10, 10)))
    with pytest.raises(ValueError, match=r'img_2.png has size \(10, 10\)'):
        _build(voc)
    # a missing mask when a mask folder is given
    os.remove(osp.join(root, 'SegmentationClass', 'img_2.png'))
    with pytest.raises(FileNotFoundError, match='img_2.png'):
        _build(voc, label_file='cls_labels.json')


def test_corrupt_image_named_when_loaded(voc):
    path = osp.join(voc['data_root'], 'JPEGImages', 'img_1.jpg')
    with open(path, 'wb') as f:
        f.write(b'not a jpeg')
    ds = _build(voc, label_file='cls_labels.json', pipeline=FULL_PIPELINE)
    ds[0]
    with pytest.raises(OSError, match='img_1.jpg'):
        ds[1]


def test_class_is_registered():
    assert DATASETS.get('WSSSVOCDataset') is WSSSVOCDataset
