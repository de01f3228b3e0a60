"""Loading, cropping and packing of BECO's confidence masks."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.datasets.transforms import LoadConfidenceMask, PackWSSSMaps, RandomResizedCropSeg


def _write(path, arr):
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path)


def test_load_from_the_subfolder_of_the_label_dir(tmp_path):
    root = str(tmp_path / 'pl')
    _write(osp.join(root, 'a', '01.png'), np.zeros((2, 3), np.uint8))
    _write(osp.join(root, 'conf_mask', 'a', '01.png'), np.array([[0, 1, 0], [1, 1, 0]], np.uint8))
    t = LoadConfidenceMask(label_dir=root)
    res = t(
        dict(
            seg_map_path=osp.join(root, 'a', '01.png'), ori_shape=(2, 3),
            seg_fields=['gt_seg_map']))
    assert res['gt_conf_mask'].tolist() == [[0, 1, 0], [1, 1, 0]]
    assert res['seg_fields'] == ['gt_seg_map', 'gt_conf_mask']
    # the official 0/255 PNGs load as 0/1 too
    _write(
        osp.join(root, 'conf_mask', 'a', '01.png'), np.array([[0, 255, 0], [255, 0, 0]], np.uint8))
    res = t(dict(seg_map_path=osp.join(root, 'a', '01.png'), ori_shape=(2, 3)))
    assert res['gt_conf_mask'].tolist() == [[0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match='size|is'):
        t(dict(seg_map_path=osp.join(root, 'a', '01.png'), ori_shape=(3, 3)))
    with pytest.raises(FileNotFoundError, match='extra_maps'):
        t(dict(seg_map_path=osp.join(root, 'b.png')))


def test_crop_moves_image_label_and_mask_together():
    np.random.seed(0)
    h, w = 30, 40
    yy, xx = np.mgrid[:h, :w]
    code = (yy * w + xx).astype(np.int64)
    img = np.stack([code % 256, code // 256, np.zeros_like(code)], -1).astype(np.uint8)
    res = dict(
        img=img,
        gt_seg_map=(code % 200).astype(np.uint8),
        gt_conf_mask=(code % 2).astype(np.uint8),
        seg_fields=['gt_seg_map', 'gt_conf_mask'])
    out = RandomResizedCropSeg(size=(16, 16), scale=(0.5, 0.75))(res)
    assert out['img'].shape == (16, 16, 3) and out['gt_seg_map'].shape == (16, 16)
    assert out['img_shape'] == (16, 16)
    # nearest: every label / mask value is the one of a source pixel, and they agree
    src = out['gt_seg_map'].astype(np.int64)
    assert np.isin(src, code % 200).all()
    assert set(np.unique(out['gt_conf_mask'])) <= {0, 1}


def test_pack_adds_the_maps_to_the_sample():
    res = dict(
        img=np.zeros((2, 3, 3), np.uint8),
        gt_seg_map=np.zeros((2, 3), np.uint8),
        gt_conf_mask=np.array([[1, 0, 1], [0, 0, 1]], np.uint8),
        seg_fields=[],
        img_path='x.jpg',
        ori_shape=(2, 3),
        img_shape=(2, 3))
    packed = PackWSSSMaps()(res)
    s = packed['data_samples']
    assert s.gt_conf_mask.data.shape == (1, 2, 3)
    assert s.gt_conf_mask.data.tolist() == [[[1, 0, 1], [0, 0, 1]]]
    assert 'gt_sem_seg' in s
    with pytest.raises(KeyError, match='gt_boundary'):
        PackWSSSMaps(maps=('gt_boundary', ))(dict(res))
