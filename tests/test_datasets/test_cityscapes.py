"""Cityscapes WSSS dataset: image labels from the gtFine train-id masks (real photo pixels).

The images are crops of real coco-mini photos saved in the Cityscapes layout; the masks
are painted by hand so that every image label can be read off the drawing below.
"""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mmwsss.datasets import CITYSCAPES_CLASSES, WSSSCityscapesDataset
from mmwsss.datasets.cityscapes import cityscapes_image_label
from mmwsss.testing.data import coco_mini_root

H, W = 32, 64


def _photo(i: int) -> np.ndarray:
    root = coco_mini_root()
    if root is None:
        pytest.skip('coco-mini not found')
    names = sorted(os.listdir(osp.join(root, 'train2017')))
    img = np.array(Image.open(osp.join(root, 'train2017', names[i])).convert('RGB'))
    return img[10:10 + H, 20:20 + W]  # a real 32x64 crop


def _masks():
    a = np.zeros((H, W), np.uint8)  # road (0) everywhere
    a[:8] = 10  # sky
    a[20:, 40:] = 13  # car
    b = np.full((H, W), 255, np.uint8)  # all ignore ...
    b[5:9, 5:9] = 18  # ... but one bicycle blob
    c = np.full((H, W), 2, np.uint8)  # building
    c[0, 0] = 255
    c[:, -1] = 11  # person
    return {
        'aachen/aachen_000000_000019': a,
        'aachen/aachen_000001_000019': b,
        'bremen/bremen_000000_000019': c
    }


def _make(root: str, split: str = 'train', masks=None) -> dict:
    masks = masks or _masks()
    for i, (key, mask) in enumerate(sorted(masks.items())):
        img_path = osp.join(root, 'leftImg8bit', split, key + '_leftImg8bit.png')
        seg_path = osp.join(root, 'gtFine', split, key + '_gtFine_labelTrainIds.png')
        os.makedirs(osp.dirname(img_path), exist_ok=True)
        os.makedirs(osp.dirname(seg_path), exist_ok=True)
        Image.fromarray(_photo(i)).save(img_path)
        Image.fromarray(mask).save(seg_path)
    return masks


def _ds(root, split='train', **kw):
    return WSSSCityscapesDataset(
        data_root=root,
        data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
        **kw)


def test_labels_by_hand(tmp_path):
    _make(str(tmp_path))
    ds = _ds(str(tmp_path))
    assert ds.metainfo['classes'] == CITYSCAPES_CLASSES and len(CITYSCAPES_CLASSES) == 19
    assert len(ds) == 3
    got = {
        osp.relpath(d['img_path'], ds.img_dir): np.flatnonzero(d['gt_img_label']).tolist()
        for d in ds.load_data_list()
    }
    # road is a class (train id 0 counts), 255 is skipped, all 19 slots exist
    assert got == {
        'aachen/aachen_000000_000019_leftImg8bit.png': [0, 10, 13],
        'aachen/aachen_000001_000019_leftImg8bit.png': [18],
        'bremen/bremen_000000_000019_leftImg8bit.png': [2, 11],
    }
    info = ds.get_data_info(0)
    assert info['gt_img_label'].shape == (19, ) and info['gt_img_label'].dtype == np.float32
    assert info['num_classes'] == 19
    assert info['seg_map_path'].endswith('aachen_000000_000019_gtFine_labelTrainIds.png')


def test_pipeline_packs_labels_and_masks(tmp_path):
    init_default_scope('mmwsss')
    _make(str(tmp_path), 'val')
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    ds = _ds(str(tmp_path), 'val', pipeline=pipeline, test_mode=True)
    out = ds[2]
    sample = out['data_samples']
    assert out['inputs'].shape == (3, H, W)
    assert sample.gt_img_label.tolist() == [0, 0, 1] + [0] * 8 + [1] + [0] * 7
    assert sample.metainfo['img_labels'] == [2, 11]
    seg = sample.gt_sem_seg.data[0]
    assert seg[0, 0] == 255 and seg[3, -1] == 11 and seg[3, 3] == 2


def test_bad_mask_value_names_the_file(tmp_path):
    masks = _masks()
    masks['bremen/bremen_000000_000019'][4, 4] = 19  # not a train id
    _make(str(tmp_path), masks=masks)
    with pytest.raises(
            ValueError, match=r'bremen_000000_000019_gtFine_labelTrainIds\.png.*'
            r'\[19\]'):
        _ds(str(tmp_path))


def test_missing_mask_and_size_mismatch(tmp_path):
    _make(str(tmp_path))
    bad = osp.join(
        str(tmp_path), 'gtFine/train/aachen/aachen_000001_000019_gtFine_labelTrainIds.png')
    Image.fromarray(np.zeros((H, W + 1), np.uint8)).save(bad)
    with pytest.raises(ValueError, match='aachen_000001_000019_gtFine_labelTrainIds.png has size'):
        _ds(str(tmp_path))
    os.remove(bad)
    with pytest.raises(FileNotFoundError, match='aachen_000001_000019_gtFine_labelTrainIds'):
        _ds(str(tmp_path))


def test_refuses_label_file_and_class_subsets(tmp_path):
    _make(str(tmp_path))
    with pytest.raises(ValueError, match='label_file is not supported'):
        _ds(str(tmp_path), label_file='labels.npy')
    with pytest.raises(ValueError, match='fixed classes'):
        _ds(str(tmp_path), metainfo=dict(classes=CITYSCAPES_CLASSES[:5]))


def test_cityscapes_image_label_function():
    seg = np.array([[0, 255], [18, 18]], np.uint8)
    assert np.flatnonzero(cityscapes_image_label(seg)).tolist() == [0, 18]
    assert cityscapes_image_label(np.full((2, 2), 255, np.uint8)).sum() == 0
    with pytest.raises(ValueError, match='m.png'):
        cityscapes_image_label(np.array([[20]], np.uint8), 'm.png')


def test_dataset_config_pipelines(tmp_path):
    from mmengine.config import Config

    from mmwsss.registry import DATASETS
    init_default_scope('mmwsss')
    _make(str(tmp_path))
    _make(str(tmp_path), 'val')
    cfg = Config.fromfile(
        osp.join(osp.dirname(__file__), '..', '..', 'configs/_base_/datasets/cityscapes_wsss.py'))
    train = dict(cfg.train_dataloader.dataset, data_root=str(tmp_path))
    out = DATASETS.build(train)[0]
    sample = out['data_samples']
    # resized to the (2048, 1024) scale x [0.5, 2], cropped to at most 512x1024; the
    # training sample carries the image label only, never the mask
    assert out['inputs'].shape[1] <= 512 and out['inputs'].shape[2] <= 1024
    assert 'gt_sem_seg' not in sample and sample.gt_img_label.shape == (19, )
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=str(tmp_path)))[0]
    assert val['inputs'].shape[1:] == (1024, 2048)  # (2048, 1024) keep-ratio of 32x64
    assert val['data_samples'].gt_sem_seg.data.shape[1:] == (H, W)
