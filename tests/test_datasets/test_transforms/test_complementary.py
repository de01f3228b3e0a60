"""CPN's superpixel complementary pair (SuperpixelComplementaryPair, hide_patch_ss)."""
import numpy as np
import pytest
import torch

pytest.importorskip('skimage')

from mmwsss.datasets.transforms import SuperpixelComplementaryPair  # noqa: E402
from mmwsss.datasets.transforms.complementary import superpixel_hide_mask  # noqa: E402
from mmwsss.models.utils.image_norm import normalize  # noqa: E402


def _image(h=48, w=64):
    rng = np.random.RandomState(3)
    img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    img[:h // 2, :w // 2] = (10, 200, 30)
    img[h // 2:, w // 2:] = (250, 20, 90)
    return img


def test_ids_drawn_with_replacement_from_0_to_k():
    from skimage.segmentation import slic
    norm = (_image()[..., ::-1].astype(np.float32) - 120) / 60
    spx = slic(norm, compactness=10, n_segments=300, start_label=1)
    k = int(spx.max())
    draw = np.random.RandomState(0).randint(0, k + 1, (k + 1) // 2)
    assert len(np.unique(draw)) < len(draw)  # replacement: this seed repeats ids
    mask = superpixel_hide_mask(norm, rng=np.random.RandomState(0))
    assert np.array_equal(mask, np.isin(spx, draw))
    assert 0 < mask.mean() < 1


def test_pair_views_ratio_and_mean_fill():
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    t = SuperpixelComplementaryPair(mean=mean, std=std)
    img = _image()
    np.random.seed(5)
    out = t.transform(dict(img=img.copy()))
    hidden = out['hide_mask'].astype(bool)
    c = out['visible_ratio']
    assert c == pytest.approx((~hidden).mean()) and 0 < c < 1
    assert c + (1 - c) == 1.0  # u = 1 - c
    vis, hid = out['visible_img'], out['hidden_img']
    assert vis.dtype == np.float32 and vis.shape == img.shape
    bgr_mean = np.float32(mean)[::-1]
    assert np.array_equal(vis[hidden], np.broadcast_to(bgr_mean, vis[hidden].shape))
    assert np.array_equal(vis[~hidden], img[~hidden].astype(np.float32))
    assert np.array_equal(hid[~hidden], np.broadcast_to(bgr_mean, hid[~hidden].shape))
    assert np.array_equal(hid[hidden], img[hidden].astype(np.float32))

    # after the preprocessor's normalisation: img * sign and img * (1 - sign), exactly

    def to(a):
        return torch.from_numpy(np.ascontiguousarray(a[..., ::-1].transpose(2, 0, 1)))[None]

    n_img = normalize(to(img.astype(np.float32)), mean, std, bgr_to_rgb=True)
    sign = torch.from_numpy(~hidden).float()
    assert torch.equal(normalize(to(vis), mean, std, bgr_to_rgb=True), n_img * sign)
    assert torch.equal(normalize(to(hid), mean, std, bgr_to_rgb=True), n_img * (1 - sign))
