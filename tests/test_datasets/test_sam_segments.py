"""S2C's segment-map pipeline: load (+1), geometric transforms, remap, move, pack."""
import numpy as np
import pytest
from mmcv.transforms import Compose

from mmwsss.datasets.transforms.sam_segments import decode_bytes, encode_bytes
from mmwsss.utils import register_all_modules

register_all_modules(init_default_scope=True)


def _results(tmp_path, se):
    np.save(tmp_path / 'img1.npy', se)
    img = np.zeros(se.shape + (3, ), np.uint8)
    return dict(
        img=img,
        img_path=str(tmp_path / 'img1.jpg'),
        ori_shape=se.shape,
        img_shape=se.shape,
        gt_img_label=np.array([1., 0.], np.float32))


def test_load_remap_move_pack(tmp_path):
    se = np.array([[-1, 0, 0, 4], [4, 4, 2, -1]])
    pipe = Compose([
        dict(type='LoadSAMSegments', segments_dir=str(tmp_path)),
        dict(type='RemapSAMSegments'),
        dict(type='Pad', size=(5, 3), pad_val=dict(img=0, seg=0)),  # (w, h)
        dict(type='MoveSAMSegments'),
        dict(type='PackWSSSMaps', maps=('gt_sam_segments', )),
    ])
    out = pipe(_results(tmp_path, se))
    sample = out['data_samples']
    # +1: [0, 1, 1, 5 / 5, 5, 3, 0]; present {0, 1, 3, 5} -> ranks {0, 1, 2, 3}; pad 0
    assert sample.gt_sam_segments.data[0].tolist() == [[0, 1, 1, 3, 0], [3, 3, 2, 0, 0],
                                                       [0, 0, 0, 0, 0]]
    assert 'gt_sem_seg' not in sample


def test_remap_quirk_all_covered_loses_one_segment(tmp_path):
    se = np.array([[0, 0, 3, 3]])  # every pixel in a mask: +1 -> {1, 4} -> {0, 1}
    pipe = Compose([
        dict(type='LoadSAMSegments', segments_dir=str(tmp_path)),
        dict(type='RemapSAMSegments'),
    ])
    assert decode_bytes(pipe(_results(tmp_path, se))['gt_seg_map']).tolist() == [[0, 0, 1, 1]]


def test_resize_flip_crop_follow_the_image(tmp_path):
    se = np.tile(np.arange(6) - 1, (4, 1))  # columns -1..4
    pipe = Compose([
        dict(type='LoadSAMSegments', segments_dir=str(tmp_path)),
        dict(type='RandomResizeLong', min_long=12, max_long=12),
        dict(type='RandomFlip', prob=1.0),
        dict(type='MoveSAMSegments'),
    ])
    out = pipe(_results(tmp_path, se))['gt_sam_segments']
    assert out.shape == (8, 12)  # nearest x2
    assert out[0].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0]  # flipped


def test_uint8_wrap_and_errors(tmp_path):
    se = np.array([[254, 255, -1]])
    load = Compose([dict(type='LoadSAMSegments', segments_dir=str(tmp_path), uint8_wrap=True)])
    assert load(_results(tmp_path, se))['gt_seg_map'].tolist() == [[255, 0, 0]]
    r = _results(tmp_path, se)
    r['img_path'] = str(tmp_path / 'other.jpg')
    with pytest.raises(FileNotFoundError, match='other.npy'):
        load(r)
    r = _results(tmp_path, se)
    r['ori_shape'] = (2, 3)
    with pytest.raises(ValueError, match='segment map'):
        load(r)


def test_byte_planes_round_trip():
    x = np.array([[0, 1, 255], [256, 70000, (1 << 24) - 1]])
    assert decode_bytes(encode_bytes(x)).tolist() == x.tolist()
    with pytest.raises(ValueError):
        encode_bytes(np.array([-1]))
