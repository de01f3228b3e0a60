import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmwsss.datasets import WSSSVOCDataset
from mmwsss.datasets.transforms import PackWSSSInputs
from mmwsss.structures import WSSSDataSample
from mmwsss.testing.data import make_voc_tiny

init_default_scope('mmwsss')


def _results(with_seg=True):
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    res = dict(
        img=img,
        img_path='x.jpg',
        ori_shape=(2, 3),
        img_shape=(2, 3),
        gt_img_label=np.array([0, 1, 0, 0, 1], np.float32))
    if with_seg:
        res['gt_seg_map'] = np.array([[0, 2, 255], [5, 0, 2]], np.uint8)
        res['seg_map_path'] = 'x.png'
    return res


def test_default_meta_keys():
    keys = PackWSSSInputs().meta_keys
    assert keys == ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                    'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'img_labels')


def test_pack_with_seg_map():
    out = PackWSSSInputs()(_results())
    sample = out['data_samples']
    assert isinstance(sample, WSSSDataSample)
    assert out['inputs'].shape == (3, 2, 3)
    # channel 1 of pixel (1, 2) = 1 * 9 + 2 * 3 + 1
    assert out['inputs'][1, 1, 2].item() == 16
    assert sample.gt_img_label.dtype == torch.float32
    assert sample.gt_img_label.tolist() == [0, 1, 0, 0, 1]
    assert sample.img_labels == [1, 4]
    assert sample.gt_sem_seg.data.tolist() == [[[0, 2, 255], [5, 0, 2]]]
    assert sample.seg_map_path == 'x.png' and sample.img_shape == (2, 3)


def test_pack_without_seg_map_and_without_label():
    out = PackWSSSInputs()(_results(with_seg=False))
    sample = out['data_samples']
    assert 'gt_sem_seg' not in sample
    assert sample.img_labels == [1, 4]
    res = _results(with_seg=False)
    del res['gt_img_label']
    sample = PackWSSSInputs()(res)['data_samples']
    assert 'img_labels' not in sample.metainfo and 'gt_img_label' not in sample


def test_pack_bad_label():
    res = _results()
    res['gt_img_label'] = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match='x.jpg'):
        PackWSSSInputs()(res)


def test_classification_pipeline_end_to_end(tmp_path):
    """No seg maps: mmseg/mmcv aug + SegDataPreprocessor keep what a CAM model needs."""
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    info = make_voc_tiny(str(tmp_path), num_images=4, size=(24, 32))
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='RandomResize', scale=(32, 32), ratio_range=(0.5, 1.0), keep_ratio=True),
        dict(type='mmseg.RandomCrop', crop_size=(16, 16), cat_max_ratio=1.0),
        dict(type='RandomFlip', prob=0.5),
        dict(type='mmseg.PhotoMetricDistortion'),
        dict(type='PackWSSSInputs'),
    ]
    ds = WSSSVOCDataset(
        data_root=info['data_root'],
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None),
        pipeline=pipeline)
    batch = pseudo_collate([ds[i] for i in range(4)])
    pre = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1], size=(16, 16), pad_val=0)
    data = pre(batch, training=True)
    assert data['inputs'].shape == (4, 3, 16, 16)
    for name, sample in zip(info['ids'], data['data_samples']):
        assert isinstance(sample, WSSSDataSample)
        assert 'gt_sem_seg' not in sample
        assert sample.img_labels == info['labels'][name]
        assert np.flatnonzero(sample.gt_img_label.numpy()).tolist() == info['labels'][name]
        # stack_batch without gt_sem_seg: pad_shape None, but img_shape + padding_size
        # still give the valid region and the padded size
        assert sample.pad_shape is None
        h, w = sample.img_shape
        left, right, top, bottom = sample.padding_size
        assert (h + top + bottom, w + left + right) == (16, 16)
    labels = torch.stack([s.gt_img_label for s in data['data_samples']])
    assert labels.shape == (4, 20)
