"""PhotometricView (ToCo views) and StrongView (DuPL) on real coco-mini photos."""
import glob
import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, ImageFilter

from mmwsss.models.data_preprocessors import (DUPL_RANDAUG_OPS, PhotometricView, StrongView,
                                              pil_gaussian_blur)
from mmwsss.registry import MODELS

COCO = osp.join(osp.dirname(__file__), '..', '..', '..', 'data', 'coco-mini', 'train2017')
NO_AUG = dict(flip_prob=0.0, jitter=None, gray_prob=0.0, blur_prob=0.0, solarize_prob=0.0)


def _photos(n=2, size=(80, 96)):
    """(n, 3, H, W) uint8 RGB: real photos (PIL, bicubic to ``size`` = (H, W))."""
    paths = sorted(glob.glob(osp.join(COCO, '*.jpg')))[:n]
    if len(paths) < n:
        pytest.skip('coco-mini photos not found (tests/conftest.py links data/coco-mini)')
    ims = [
        np.asarray(Image.open(p).convert('RGB').resize(size[::-1], Image.BICUBIC)) for p in paths
    ]
    return torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).contiguous()


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- PhotometricView


def test_all_probabilities_zero_is_identity():
    imgs = _photos()
    out, flipped = PhotometricView(**NO_AUG)(imgs, generator=_gen(0))
    assert out.dtype == torch.float32 and out.shape == imgs.shape
    assert torch.equal(out, imgs.float()) and not flipped.any()
    # float input (0..255) takes the same path
    out_f, _ = PhotometricView(**NO_AUG)(imgs.float())
    assert torch.equal(out_f, imgs.float())
    # jitter with prob 0 is also off
    out_j, _ = PhotometricView(**{**NO_AUG, 'jitter': dict(brightness=0.4, prob=0.0)})(imgs)
    assert torch.equal(out_j, imgs.float())


def test_flip_prob_one_flips_every_image():
    imgs = _photos(3)
    out, flipped = PhotometricView(**{**NO_AUG, 'flip_prob': 1.0})(imgs)
    assert flipped.dtype == torch.bool and flipped.tolist() == [True, True, True]
    assert torch.equal(out, imgs.flip(-1).float())


def test_grayscale_hand_pixel():
    imgs = _photos(1)
    out, _ = PhotometricView(**{**NO_AUG, 'gray_prob': 1.0})(imgs)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    r, g, b = (int(v) for v in imgs[0, :, 10, 20])
    # torchvision's luma weights; its uint8 path truncates (``.to(uint8)``)
    assert out[0, 0, 10, 20].item() == int(0.2989 * r + 0.587 * g + 0.114 * b)
    # a pixel built by hand: 0.2989 * 200 + 0.587 * 100 + 0.114 * 50 = 124.18
    px = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    out, _ = PhotometricView(**{**NO_AUG, 'gray_prob': 1.0})(px.contiguous())
    assert out.unique().tolist() == [124.0]


def test_solarize_hand_pixels():
    vals = torch.tensor([0, 5, 127, 128, 200, 255], dtype=torch.uint8)
    img = vals.view(1, 1, 1, 6).expand(2, 3, 4, 6).contiguous()
    out, _ = PhotometricView(**{**NO_AUG, 'solarize_prob': 1.0})(img)
    # PIL.ImageOps.solarize(threshold=128): v >= 128 -> 255 - v
    assert out[0, 0, 0].tolist() == [0, 5, 127, 127, 55, 0]
    assert torch.equal(out[0], out[1])
    out, _ = PhotometricView(**{**NO_AUG, 'solarize_prob': 1.0, 'solarize_threshold': 200})(img)
    assert out[0, 2, 3].tolist() == [0, 5, 127, 128, 55, 0]


def test_seeded_generator_is_reproducible_and_seeds_differ():
    imgs = _photos(2)
    view = PhotometricView.preset('global_view2')
    a, fa = view(imgs, generator=_gen(3))
    b, fb = view(imgs, generator=_gen(3))
    assert torch.equal(a, b) and torch.equal(fa, fb)
    c, _ = view(imgs, generator=_gen(4))
    assert not torch.equal(a, c)
    # the global RNG is used without a generator, and torch.manual_seed controls it
    torch.manual_seed(11)
    d, _ = view(imgs)
    torch.manual_seed(11)
    e, _ = view(imgs)
    assert torch.equal(d, e)


def test_jitter_order_is_random_per_sample_and_followed():
    jitter = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=1.0)
    view = PhotometricView(**{**NO_AUG, 'jitter': jitter})
    params = view.sample_params(200, generator=_gen(0))
    orders = Counter(tuple(op for op, _ in p['jitter']) for p in params)
    assert all(sorted(o) == ['brightness', 'contrast', 'hue', 'saturation'] for o in orders)
    assert len(orders) >= 20  # 24 permutations, ~8 draws each
    ranges = dict(
        brightness=(0.6, 1.4), contrast=(0.6, 1.4), saturation=(0.8, 1.2), hue=(-0.1, 0.1))
    for p in params:
        for op, f in p['jitter']:
            assert ranges[op][0] <= f <= ranges[op][1]
    # apply_one composes in the drawn order: brightness-then-contrast != the reverse
    img = _photos(1)[0]
    bc = dict(
        flip=False,
        gray=False,
        blur_radius=None,
        solarize=False,
        jitter=[('brightness', 1.4), ('contrast', 0.6)])
    cb = dict(bc, jitter=[('contrast', 0.6), ('brightness', 1.4)])
    out_bc, out_cb = view.apply_one(img, bc), view.apply_one(img, cb)
    assert torch.equal(out_bc, TF.adjust_contrast(TF.adjust_brightness(img, 1.4), 0.6))
    assert torch.equal(out_cb, TF.adjust_brightness(TF.adjust_contrast(img, 0.6), 1.4))
    assert not torch.equal(out_bc, out_cb)


def test_zero_jitter_strength_skips_the_op():
    jitter = dict(brightness=0.4, contrast=0, hue=0.0, prob=1.0)
    view = PhotometricView(**{**NO_AUG, 'jitter': jitter})
    ops = {op for p in view.sample_params(50, _gen(1)) for op, _ in p['jitter']}
    assert ops == {'brightness'}


def test_probabilities_are_respected():
    view = PhotometricView.preset('global_view2')
    params = view.sample_params(4000, generator=_gen(5))
    frac = lambda key: np.mean([bool(p[key]) for p in params])  # noqa: E731
    assert abs(frac('flip') - 0.5) < 0.03
    assert abs(frac('jitter') - 0.8) < 0.03
    assert abs(frac('gray') - 0.2) < 0.03
    assert abs(frac('blur_radius') - 0.1) < 0.02
    assert abs(frac('solarize') - 0.2) < 0.03
    radii = [p['blur_radius'] for p in params if p['blur_radius'] is not None]
    assert 0.1 <= min(radii) and max(radii) <= 2.0
    view1 = PhotometricView.preset('global_view1')
    assert all(p['blur_radius'] is not None for p in view1.sample_params(200, _gen(0)))


def test_presets_match_toco():
    names = ('global_view1', 'global_view2', 'local_view')
    v1, v2, loc = (PhotometricView.preset(n) for n in names)
    for v in (v1, v2, loc):
        assert (v.flip_prob, v.jitter_prob, v.gray_prob) == (0.5, 0.8, 0.2)
        assert (v.brightness, v.contrast, v.saturation, v.hue) == \
            ((0.6, 1.4), (0.6, 1.4), (0.8, 1.2), (-0.1, 0.1))
        assert v.blur_radius == (0.1, 2.0)
    assert (v1.blur_prob, v1.solarize_prob) == (1.0, 0.0)
    assert (v2.blur_prob, v2.solarize_prob) == (0.1, 0.2)
    assert (loc.blur_prob, loc.solarize_prob) == (0.5, 0.0)
    assert PhotometricView.preset('local_view', blur_prob=0.0).blur_prob == 0.0
    with pytest.raises(KeyError):
        PhotometricView.preset('view3')
    built = MODELS.build(dict(type='PhotometricView', **PhotometricView.PRESETS['global_view2']))
    assert isinstance(built, PhotometricView) and built.solarize_prob == 0.2


@pytest.mark.parametrize('radius', [0.5, 1.0, 2.0])
def test_blur_matches_pil_gaussian_blur(radius):
    """sigma = radius with +-ceil(3 sigma) support reproduces PIL on a real photo."""
    path = sorted(glob.glob(osp.join(COCO, '*.jpg')))[:1]
    if not path:
        pytest.skip('coco-mini photos not found')
    pil = Image.open(path[0]).convert('RGB').resize((160, 120), Image.BICUBIC)
    img = torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1)
    ref = torch.from_numpy(np.asarray(pil.filter(ImageFilter.GaussianBlur(radius))).copy())
    ref = ref.permute(2, 0, 1).float()
    ours = pil_gaussian_blur(img, radius)
    assert ours.dtype == torch.uint8 and ours.shape == img.shape
    err = (ours.float() - ref).abs().mean().item()
    assert err < 0.8, err
    # the rule matters: reading PIL's radius as a kernel "radius" (sigma = r / 2) is far off
    wrong = pil_gaussian_blur(img, radius / 2)
    assert (wrong.float() - ref).abs().mean().item() > 2 * err
    # edges are replicated like PIL's box blur: a constant image stays constant
    flat = torch.full((3, 9, 9), 77, dtype=torch.uint8)
    assert torch.equal(pil_gaussian_blur(flat, radius), flat)


def test_blur_step_of_the_view_uses_the_drawn_radius():
    img = _photos(1)
    view = PhotometricView(**{**NO_AUG, 'blur_prob': 1.0})
    (p, ) = view.sample_params(1, _gen(9))
    out, _ = view(img, generator=_gen(9))
    assert torch.equal(out[0], pil_gaussian_blur(img[0], p['blur_radius']).float())


def test_bad_arguments():
    with pytest.raises(ValueError):
        PhotometricView(flip_prob=1.5)
    with pytest.raises(ValueError):
        PhotometricView(jitter=dict(brightness=0.4, gamma=1.0))
    with pytest.raises(ValueError):
        PhotometricView(blur_radius=(0.0, 2.0))
    with pytest.raises(ValueError):
        PhotometricView()(torch.zeros(2, 4, 8, 8, dtype=torch.uint8))


# ---------------------------------------------------------------------- StrongView


def test_strong_view_magnitudes_m10():
    view = StrongView(num_ops=5, magnitude=10)
    assert view.values['posterize'] == 2
    for op in ('color', 'contrast', 'brightness', 'sharpness'):
        assert view.values[op] == pytest.approx(0.7)
    assert StrongView.op_value('posterize', 0) == 1  # max(1, int(0))
    assert StrongView.op_value('brightness', 30) == pytest.approx(1.9)


@pytest.mark.parametrize('op,ref', [('autocontrast', TF.autocontrast), ('equalize', TF.equalize),
                                    ('posterize', lambda x: TF.posterize(x, 2)),
                                    ('color', lambda x: TF.adjust_saturation(x, 0.7)),
                                    ('contrast', lambda x: TF.adjust_contrast(x, 0.7)),
                                    ('brightness', lambda x: TF.adjust_brightness(x, 0.7)),
                                    ('sharpness', lambda x: TF.adjust_sharpness(x, 0.7))])
def test_strong_view_single_op(op, ref):
    imgs = _photos(2)
    out, flipped = StrongView(num_ops=1, ops=(op, ))(imgs)
    assert flipped.all()  # DuPL flips every strong view
    expect = torch.stack([ref(x) for x in imgs]).flip(-1).float()
    assert torch.equal(out, expect)
    if op == 'posterize':  # 2 bits kept: only 0, 64, 128, 192
        assert set(out.unique().tolist()) <= {0.0, 64.0, 128.0, 192.0}
    if op == 'brightness':  # a hand pixel: floor(0.7 * v)
        v = int(imgs[0, 1, 5, 7])
        assert out[0, 1, 5, -8].item() == int(0.7 * v)


def test_strong_view_ops_drawn_with_replacement():
    params = StrongView().sample_params(500, _gen(0))
    assert all(len(p['ops']) == 5 and p['flip'] for p in params)
    seen = Counter(op for p in params for op in p['ops'])
    assert set(seen) == set(DUPL_RANDAUG_OPS)
    assert max(seen.values()) / min(seen.values()) < 1.3  # uniform choice
    assert any(len(set(p['ops'])) < 5 for p in params)  # repeats happen


def test_strong_view_changes_no_geometry_except_flip():
    """A bright off-centre square stays where it was (mirrored when flipped)."""
    img = torch.full((1, 3, 40, 48), 30, dtype=torch.uint8)
    img[..., 8:20, 4:16] = torch.tensor([220, 160, 90], dtype=torch.uint8).view(3, 1, 1)
    imgs = img.expand(16, -1, -1, -1).contiguous()
    inside = (slice(None), slice(None), slice(10, 18), slice(6, 14))
    outside = torch.ones(40, 48, dtype=torch.bool)
    outside[6:22, 2:18] = False  # 2 px margin around the square's edge (sharpness 3x3)
    for flip_prob in (0.0, 1.0):
        out, flipped = StrongView(flip_prob=flip_prob)(imgs, generator=_gen(2))
        assert flipped.tolist() == [flip_prob == 1.0] * 16
        assert out.shape == imgs.shape
        if flip_prob:
            out = out.flip(-1)
        for o in out:
            sq, bg = o[inside[1:]], o[:, outside]
            # both regions stay flat (no pixel moved in from the other), and differ
            assert (sq == sq[:, :1, :1]).all() and (bg == bg[:, :1]).all()
            assert not torch.equal(sq[:, 0, 0], bg[:, 0])


def test_strong_view_seeded():
    imgs = _photos(2)
    view = StrongView()
    a, _ = view(imgs, generator=_gen(1))
    b, _ = view(imgs.float(), generator=_gen(1))
    c, _ = view(imgs, generator=_gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError):
        StrongView(ops=('rotate', ))
    assert isinstance(MODELS.build(dict(type='StrongView', num_ops=5, magnitude=10)), StrongView)


# ---------------------------------------------------------------------------- CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    imgs = _photos(4, size=(96, 128))
    for view in (PhotometricView.preset('global_view2'), PhotometricView.preset('global_view1'),
                 StrongView()):
        cpu, f_cpu = view(imgs, generator=_gen(7))
        gpu, f_gpu = view(imgs.cuda(), generator=_gen(7))
        assert gpu.is_cuda and f_gpu.is_cuda and torch.equal(f_cpu, f_gpu.cpu())
        # same parameters; float kernels may round a few values differently
        diff = (gpu.cpu() - cpu).abs()
        assert diff.max() <= 2 and (diff > 0).float().mean() < 0.01, diff.max()
        # a CUDA generator draws on the device
        out, _ = view(imgs.cuda(), generator=torch.Generator('cuda').manual_seed(0))
        assert out.is_cuda and out.shape == imgs.shape
