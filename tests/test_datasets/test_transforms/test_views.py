"""RandomResizedCropView + PackWSSSViews on real coco-mini photos."""
import glob
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from mmwsss.datasets.transforms import (LoadWSSSImageFromFile, PackWSSSViews, RandomResizedCropView,
                                        RandomResizeLong)
from mmwsss.datasets.transforms.views import ViewData, random_resized_crop_params
from mmwsss.registry import TRANSFORMS
from mmwsss.structures import WSSSDataSample

init_default_scope('mmwsss')

COCO = osp.join(osp.dirname(__file__), '..', '..', '..', 'data', 'coco-mini', 'train2017')


def _paths(n=1):
    paths = sorted(glob.glob(osp.join(COCO, '*.jpg')))[:n]
    if len(paths) < n:
        pytest.skip('coco-mini photos not found (tests/conftest.py links data/coco-mini)')
    return paths


def _loaded(path):
    return LoadWSSSImageFromFile()(dict(img_path=path))


def test_output_size_on_a_real_photo():
    res = _loaded(_paths()[0])
    orig = res['img'].copy()
    np.random.seed(0)
    res = RandomResizedCropView(size=448)(res)
    view = res['view2']
    assert view.shape == (448, 448, 3) and view.dtype == np.uint8
    assert np.array_equal(res['img'], orig)  # the main image is untouched
    y0, y1, x0, x1 = res['view2_box']
    h, w = orig.shape[:2]
    assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
    res = RandomResizedCropView(out_key='v', size=(200, 300))(_loaded(_paths()[0]))
    assert res['v'].shape == (200, 300, 3) and 'v_box' in res


def test_full_image_crop_is_a_bicubic_resize_of_the_original():
    """scale=(1, 1) with the image's own ratio: the box is the whole image."""
    path = _paths()[0]
    res = _loaded(path)
    h, w = res['img'].shape[:2]
    res = RandomResizedCropView(size=(120, 160), scale=(1.0, 1.0), ratio=(w / h, w / h))(res)
    assert res['view2_box'].tolist() == [0, h, 0, w]
    # PIL bicubic of the original, in BGR like the loaded image
    rgb = Image.open(path).convert('RGB')
    expect = np.asarray(rgb.resize((160, 120), Image.BICUBIC))[..., ::-1]
    # cv2 and PIL decode JPEGs (almost) identically; the resize is the same PIL call
    assert np.abs(res['view2'].astype(int) - expect.astype(int)).mean() < 0.5
    from_loaded = np.asarray(Image.fromarray(res['img']).resize((160, 120), Image.BICUBIC))
    assert np.array_equal(res['view2'], from_loaded)


def test_partial_crop_content_comes_from_the_original_box():
    res = _loaded(_paths()[0])
    np.random.seed(3)
    res = RandomResizedCropView(size=64, scale=(0.2, 0.2))(res)
    y0, y1, x0, x1 = res['view2_box']
    area = (y1 - y0) * (x1 - x0) / (res['img'].shape[0] * res['img'].shape[1])
    assert area == pytest.approx(0.2, rel=0.02)
    crop = Image.fromarray(np.ascontiguousarray(res['img'][y0:y1, x0:x1]))
    assert np.array_equal(res['view2'], np.asarray(crop.resize((64, 64), Image.BICUBIC)))
    # the cv2 backend resizes the same box, with cv2's bicubic (no antialiasing, unlike
    # PIL: that is why 'pillow', ToCo's resize, is the default)
    np.random.seed(3)
    res2 = RandomResizedCropView(size=64, scale=(0.2, 0.2), backend='cv2')(_loaded(_paths()[0]))
    assert res2['view2_box'].tolist() == res['view2_box'].tolist()
    expect = cv2.resize(
        np.ascontiguousarray(res['img'][y0:y1, x0:x1]), (64, 64), interpolation=cv2.INTER_CUBIC)
    assert np.array_equal(res2['view2'], expect)


def test_crop_params_follow_torchvision():
    rng = np.random.RandomState(0)
    for _ in range(300):
        top, left, h, w = random_resized_crop_params(300, 400, (0.4, 1.0), (3 / 4, 4 / 3), rng)
        assert 0 <= top and top + h <= 300 and 0 <= left and left + w <= 400
        # rounding of h and w moves area and ratio a little
        assert 0.4 - 0.01 <= h * w / (300 * 400) <= 1.0
        assert 3 / 4 - 0.02 <= w / h <= 4 / 3 + 0.02
    # no box of scale >= 0.9 with ratio <= 4/3 fits a 10x1000 strip: centred fallback with
    # the ratio clamped to 4/3 (torchvision: h = H, w = round(H * max(ratio)))
    assert random_resized_crop_params(10, 1000, (0.9, 1.0), (3 / 4, 4 / 3), rng) == \
        (0, (1000 - 13) // 2, 10, 13)
    # a tall strip: w = W, h = round(W / min(ratio))
    assert random_resized_crop_params(1000, 10, (0.9, 1.0), (3 / 4, 4 / 3), rng) == \
        ((1000 - 13) // 2, 0, 13, 10)
    # the global numpy RNG is used by default (mmengine seeds it per worker)
    np.random.seed(5)
    a = random_resized_crop_params(300, 400)
    np.random.seed(5)
    assert random_resized_crop_params(300, 400) == a
    # the draws are log-uniform in ratio: both sides of 1 occur
    ratios = [
        w / h for _, _, h, w in (random_resized_crop_params(300, 300, rng=rng) for _ in range(200))
    ]
    assert min(ratios) < 0.85 and max(ratios) > 1.2
    assert abs(np.mean([math.log(r) for r in ratios])) < 0.05


def test_refuses_a_resized_image():
    res = _loaded(_paths()[0])
    res = RandomResizeLong(100, 100)(res)
    with pytest.raises(ValueError, match='right after LoadWSSSImageFromFile'):
        RandomResizedCropView()(res)
    with pytest.raises(ValueError):
        RandomResizedCropView(out_key='img')
    with pytest.raises(ValueError):
        RandomResizedCropView(scale=(0.5, 1.5))


def _pipeline(size=64):
    return Compose([
        dict(type='LoadWSSSImageFromFile'),
        dict(type='RandomResizedCropView', out_key='view2', size=size),
        dict(type='RandomResizeLong', min_long=48, max_long=80),
        dict(type='PackWSSSViews', keys=('view2', )),
    ])


def test_pack_views_into_the_data_sample():
    np.random.seed(0)
    res = _loaded(_paths()[0])
    res = RandomResizedCropView(size=(40, 56))(res)
    view = res['view2'].copy()
    res['gt_img_label'] = np.array([0, 1, 0], np.float32)
    packed = PackWSSSViews()(res)
    sample = packed['data_samples']
    assert isinstance(sample, WSSSDataSample) and isinstance(sample.views, ViewData)
    t = sample.views['view2']
    assert t is sample.views.view2 and 'view2' in sample.views
    assert t.shape == (3, 40, 56) and t.dtype == torch.uint8 and t.is_contiguous()
    assert np.array_equal(t.permute(1, 2, 0).numpy(), view)  # same (BGR) channel order
    assert sample.gt_img_label.tolist() == [0, 1, 0]
    assert packed['inputs'].shape[0] == 3
    # views are data fields (not metainfo) and travel with .to()/.cpu()
    assert 'views' in sample.keys() and 'views' not in sample.metainfo_keys()
    assert torch.equal(sample.to('cpu').views.view2, t)
    with pytest.raises(KeyError):
        sample.views['view3']


def test_pack_views_errors_and_registry():
    res = _loaded(_paths()[0])
    with pytest.raises(KeyError, match='RandomResizedCropView'):
        PackWSSSViews()(res)
    with pytest.raises(ValueError):
        PackWSSSViews(keys=())
    t = TRANSFORMS.build(dict(type='PackWSSSViews', keys='local'))
    assert t.keys == ('local', )


class _Photos(Dataset):
    """Real photos through the pipeline, with a fixed image-level label."""

    def __init__(self, paths):
        self.paths, self.pipeline = paths, _pipeline()

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        label = np.eye(3, dtype=np.float32)[i % 3]
        return self.pipeline(dict(img_path=self.paths[i], gt_img_label=label))


@pytest.mark.parametrize('num_workers', [0, 1])
def test_dataloader_round_trip_keeps_views_per_sample(num_workers):
    paths = _paths(3)
    loader = DataLoader(
        _Photos(paths), batch_size=3, num_workers=num_workers, collate_fn=pseudo_collate)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 3 and len(batch['data_samples']) == 3
    shapes = {tuple(x.shape) for x in batch['inputs']}
    for i, sample in enumerate(batch['data_samples']):
        assert isinstance(sample.views, ViewData)
        assert sample.views['view2'].shape == (3, 64, 64)
        assert sample.views['view2'].dtype == torch.uint8
        assert sample.gt_img_label.argmax().item() == i
        assert osp.basename(sample.img_path) == osp.basename(paths[i])
    # the main images were resized independently (long side 48..80): not the view size
    assert all(max(s[1:]) <= 80 for s in shapes)


def test_pseudo_collate_of_views_with_different_sizes():
    samples = []
    for size in (32, 48):
        res = RandomResizedCropView(size=size)(_loaded(_paths()[0]))
        samples.append(PackWSSSViews()(res))
    batch = pseudo_collate(samples)
    got = [s.views.view2.shape for s in batch['data_samples']]
    assert got == [(3, 32, 32), (3, 48, 48)]
