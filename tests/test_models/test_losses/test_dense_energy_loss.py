"""DenseEnergyLoss (rloss, as in ToCo / AFA / MoRe) without the compiled extension."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.dense_energy_loss import (DenseEnergyLoss, bilateral_features,
                                                    bilateral_filter, dense_energy,
                                                    dense_energy_loss, downscale_energy_inputs,
                                                    energy_gate, energy_loss_inputs)
from mmwsss.registry import MODELS

# exp(-d^2 / (2 s^2)) = 2^-(d^2) for s = 1 / sqrt(2 ln 2): kernel 1, 1/2, 1/4, 1/16, ...
SIGMA_POW2 = 1 / math.sqrt(2 * math.log(2))


def _hand_case():
    """3 x 3, K = 2, B = 1. S0 (class 0) below, S1 = 1 - S0; pixel (2, 2) is outside
    the ROI, pixel (1, 1) is ignored (label 255); constant image."""
    s0 = torch.tensor([[1., 1., .5], [1., .5, 0.], [.5, 0., 0.]])
    probs = torch.stack([s0, 1 - s0]).unsqueeze(0)  # (1, 2, 3, 3)
    rois = torch.ones(1, 3, 3)
    rois[0, 2, 2] = 0
    label = torch.zeros(1, 1, 3, 3)
    label[0, 0, 1, 1] = 255
    images = torch.full((1, 3, 3, 3), 100.)
    return images, probs, rois, label


def test_energy_and_gradient_by_hand():
    images, probs, rois, label = _hand_case()
    probs.requires_grad_(True)
    # scale_factor 1: no resize; constant image: only the spatial kernel 2^-(dx^2 + dy^2)
    # Gate = ROI - max S (clamped), 1 where ignored:
    #   (0,2): 1 - .5 = .5   (1,1): ignored -> 1   (2,0): .5   (2,2): 0 - 1 -> 0   others 0
    # S' = S * ROI zeroes (2,2) (S1 = 1 there). AS = Gate * W S' is needed at 3 pixels:
    #   (1,1): W S0' = .5 + 1/2 (1 + 1) + 1/4 (1 + .5 + .5) = 2
    #          W S1' = .5 + 1/2 (1 + 1) + 1/4 (.5 + .5) = 1.75
    #   (0,2): W S0' = .5 + 1/2 * 1 + 1/4 * .5 + 1/16 * 1 + 1/32 * 1 + 1/256 * .5 = 1.220703125
    #          W S1' = .5 + 1/2 * 1 + 1/4 * .5 + 1/32 * 1 + 1/256 * .5 = 1.158203125
    #   (2,0): the transpose of (0,2) (S and the ROI are symmetric): same values
    # E = -[1 (.5*2 + .5*1.75) + 2 * .5 (.5*1.220703125 + .5*1.158203125)] / 1
    #   = -(1.875 + 1.189453125) = -3.064453125
    energy = dense_energy_loss(
        images,
        probs,
        rois,
        label,
        sigma_rgb=15.,
        sigma_xy=SIGMA_POW2,
        scale_factor=1.,
        filter='dense')
    assert energy.dim() == 0
    assert energy.item() == pytest.approx(-3.064453125, abs=1e-5)
    # dE/dS = -2 AS / B * ROI: nonzero only where Gate > 0
    energy.backward()
    expected = torch.zeros(1, 2, 3, 3)
    expected[0, :, 1, 1] = torch.tensor([-4.0, -3.5])
    expected[0, :, 0, 2] = torch.tensor([-1.220703125, -1.158203125])
    expected[0, :, 2, 0] = torch.tensor([-1.220703125, -1.158203125])
    torch.testing.assert_close(probs.grad, expected, rtol=1e-5, atol=1e-5)


def test_colour_edge_cuts_the_kernel():
    # sigma_rgb 1 and a 100 jump: exp(-3 * 100^2 / 2) = 0, so the two colour
    # regions filter independently (float64: features of size 100 would cost float32
    # |a|^2 + |b|^2 - 2ab about 1e-3 of absolute error in the squared distance)
    images, probs, rois, label = (x.double() for x in _hand_case())
    images[:, :, :, 0] = 0.
    out = bilateral_filter(images, probs, 1., SIGMA_POW2, 'dense')
    left = bilateral_filter(images[..., :1], probs[..., :1], 1., SIGMA_POW2, 'dense')
    right = bilateral_filter(images[..., 1:], probs[..., 1:], 1., SIGMA_POW2, 'dense')
    torch.testing.assert_close(out, torch.cat([left, right], -1))
    # column 0, class 0 = (1, 1, .5) with the 1-D kernel (1, 1/2, 1/16)
    torch.testing.assert_close(
        left[0, 0, :, 0],
        torch.tensor([1 + .5 + .5 / 16, .5 + 1 + .25, 1 / 16 + .5 + .5], dtype=torch.float64))


# ------------------------------------------------------------------- gate rules


def test_gate_rules():
    # pixels: labelled in ROI; ignored in ROI; labelled outside ROI; ignored outside ROI
    probs = torch.tensor([[.7, .5, .6, .9], [.3, .5, .4, .1]]).view(1, 2, 1, 4)
    rois = torch.tensor([[[1., 1., 0., 0.]]])
    unlabel = torch.tensor([[[False, True, False, True]]])
    gate = energy_gate(probs, rois, unlabel)
    torch.testing.assert_close(gate, torch.tensor([[[.3, 1., 0., 1.]]]))
    assert not gate.requires_grad


def test_outside_roi_pixels_contribute_nothing():
    torch.manual_seed(0)
    images = torch.rand(1, 3, 6, 7) * 255
    probs = torch.softmax(torch.randn(1, 3, 6, 7), 1)
    rois = torch.zeros(1, 6, 7)
    rois[:, 1:5, 2:6] = 1
    label = torch.randint(0, 3, (1, 1, 6, 7)).float()
    label[0, 0, ::2] = 255  # ignore some, also outside ROI
    other = probs.clone()
    other[:, :, rois[0] == 0] = torch.softmax(torch.randn(3, int((rois == 0).sum())), 0)
    kw = dict(sigma_rgb=15., sigma_xy=3., scale_factor=1., filter='dense')
    p = probs.clone().requires_grad_(True)
    e1 = dense_energy_loss(images, p, rois, label, **kw)
    e2 = dense_energy_loss(images, other, rois, label, **kw)
    assert e1.item() == pytest.approx(e2.item(), rel=1e-6)
    e1.backward()
    assert (p.grad[:, :, rois[0] == 0] == 0).all()
    assert (p.grad[:, :, rois[0] == 1] != 0).any()


# ------------------------------------------------------------------- gradients


def _explicit_energy(images, probs, rois, gate, sigma_rgb, sigma_xy):
    """-sum(S' * gate * W S') / B with W built from the definition (autograd-able)."""
    B, K = probs.shape[:2]
    f = bilateral_features(images.double(), sigma_rgb, sigma_xy)  # (B, N, 5)
    W = torch.exp(-0.5 * ((f[:, :, None] - f[:, None])**2).sum(-1))  # (B, N, N)
    s = (probs * rois.unsqueeze(1)).flatten(2)  # (B, K, N)
    ws = s @ W.transpose(1, 2)  # (B, K, N)
    return -(s * gate.flatten(1).unsqueeze(1) * ws).sum() / B, W, s


def _random_case(seed, all_ignored):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64) * 255
    probs = torch.softmax(torch.randn(2, 3, 5, 6, generator=g, dtype=torch.float64) * 2, 1)
    rois = torch.ones(2, 5, 6, dtype=torch.float64)
    rois[1, :, 4:] = 0
    unlabel = torch.ones(2, 5, 6, dtype=torch.bool) if all_ignored else \
        torch.rand(2, 5, 6, generator=g) < 0.4
    return images, probs, rois, unlabel


def test_official_gradient_equals_autograd_when_gate_is_constant():
    # every pixel ignored -> Gate = 1 everywhere: E = -S'^T W S' / B and its true
    # gradient -2 W S' ROI / B is the official rule
    images, probs, rois, unlabel = _random_case(1, all_ignored=True)
    p = probs.clone().requires_grad_(True)
    dense_energy(images, p, rois, unlabel, 40., 2., filter='dense').backward()
    q = probs.clone().requires_grad_(True)
    gate = energy_gate(probs, rois, unlabel)
    assert (gate == 1).all()
    e, _, _ = _explicit_energy(images, q, rois, gate, 40., 2.)
    e.backward()
    torch.testing.assert_close(p.grad, q.grad)
    assert dense_energy(images, probs, rois, unlabel, 40., 2., 'dense').item() == \
        pytest.approx(e.item(), rel=1e-10)


def test_official_gradient_with_varying_gate():
    # Gate varies: the official rule is -2 Gate W S' ROI / B, while the true
    # gradient (Gate held constant) is -(Gate W S' + W (Gate S')) ROI / B
    images, probs, rois, unlabel = _random_case(2, all_ignored=False)
    p = probs.clone().requires_grad_(True)
    e_off = dense_energy(images, p, rois, unlabel, 40., 2., filter='dense')
    e_off.backward()
    gate = energy_gate(probs, rois, unlabel)
    q = probs.clone().requires_grad_(True)
    e, W, s = _explicit_energy(images, q, rois, gate, 40., 2.)
    e.backward()
    assert e_off.item() == pytest.approx(e.item(), rel=1e-10)
    g = gate.flatten(1).unsqueeze(1)
    ws = s.detach() @ W.transpose(1, 2)
    official = (-2 * g * ws / 2).view_as(probs) * rois.unsqueeze(1)
    torch.testing.assert_close(p.grad, official)
    true = (-(g * ws + (g * s.detach()) @ W.transpose(1, 2)) / 2).view_as(probs) * rois.unsqueeze(1)
    torch.testing.assert_close(q.grad, true)
    assert (p.grad - q.grad).abs().max() > 1e-3


def test_gradient_reaches_the_logits_through_the_resize():
    torch.manual_seed(3)
    logits = torch.randn(2, 4, 10, 12, requires_grad=True)
    images = torch.rand(2, 3, 10, 12) * 255
    loss = dense_energy_loss(images, torch.softmax(logits, 1), torch.ones(2, 10, 12),
                             torch.full((2, 1, 10, 12), 255.))
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


# ------------------------------------------------------------------ downscaling


def _bilinear_ref(x: np.ndarray, out_hw, scale_hw) -> np.ndarray:
    """align_corners=False bilinear with explicit source scales (PyTorch's rule:
    src = (dst + .5) * scale - .5, clamped at 0)."""
    H, W = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + tuple(out_hw))
    for oy in range(out_hw[0]):
        sy = max((oy + .5) * scale_hw[0] - .5, 0.)
        y0 = int(sy)
        y1, ly = min(y0 + 1, H - 1), sy - y0
        for ox in range(out_hw[1]):
            sx = max((ox + .5) * scale_hw[1] - .5, 0.)
            x0 = int(sx)
            x1, lx = min(x0 + 1, W - 1), sx - x0
            out[..., oy, ox] = ((1 - ly) * ((1 - lx) * x[..., y0, x0] + lx * x[..., y0, x1]) + ly *
                                ((1 - lx) * x[..., y1, x0] + lx * x[..., y1, x1]))
    return out


def test_downscaling_rules_on_odd_size():
    torch.manual_seed(4)
    H, W = 45, 61
    images = torch.rand(1, 3, H, W) * 255
    probs = torch.softmax(torch.randn(1, 3, H, W), 1)
    rois = (torch.rand(1, H, W) > .3).float()
    label = torch.randint(0, 3, (1, 1, H, W)).float()
    label[torch.rand(1, 1, H, W) < .4] = 255
    s_img, s_probs, s_rois, unlabel = downscale_energy_inputs(images, probs, rois, label, 0.5)
    assert s_img.shape == (1, 3, 22, 30) and s_probs.shape == (1, 3, 22, 30)
    assert s_rois.shape == unlabel.shape == (1, 22, 30)
    # recompute_scale_factor=True (ToCo): sampling scale in / out = 45/22, 61/30
    sy, sx = H / 22, W / 30
    iy = np.minimum(np.floor(np.arange(22) * sy).astype(int), H - 1)
    ix = np.minimum(np.floor(np.arange(30) * sx).astype(int), W - 1)
    np.testing.assert_array_equal(s_img.numpy(), images.numpy()[:, :, iy][:, :, :, ix])
    np.testing.assert_array_equal(s_rois.numpy(), rois.numpy()[:, iy][:, :, ix])
    np.testing.assert_array_equal(unlabel.numpy(), label.numpy()[:, 0, iy][:, :, ix] == 255)
    np.testing.assert_allclose(
        s_probs.numpy(), _bilinear_ref(probs.numpy(), (22, 30), (sy, sx)), rtol=1e-5, atol=1e-5)
    # rloss's original (no recompute): scale exactly 2 -> bilinear = 2 x 2 average
    _, p2, _, _ = downscale_energy_inputs(
        images, probs, rois, label, 0.5, recompute_scale_factor=False)
    torch.testing.assert_close(p2, F.avg_pool2d(probs[..., :44, :60], 2))
    assert (p2 - s_probs).abs().max() > 1e-2  # the two conventions differ
    # ToCo's 448 crop: in / out = 2 exactly, both conventions agree
    big = torch.rand(1, 2, 448, 448)
    a = downscale_energy_inputs(big[:, :1].expand(1, 3, -1, -1), big, big[:, 0], big[:, :1], .5)
    b = downscale_energy_inputs(
        big[:, :1].expand(1, 3, -1, -1),
        big,
        big[:, 0],
        big[:, :1],
        .5,
        recompute_scale_factor=False)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_sigma_xy_is_scaled_with_the_image():
    # the loss filters at half resolution with sigma_xy * 0.5
    torch.manual_seed(5)
    images = torch.rand(1, 3, 16, 20) * 255
    probs = torch.softmax(torch.randn(1, 3, 16, 20), 1)
    rois, label = torch.ones(1, 16, 20), torch.zeros(1, 1, 16, 20)
    full = dense_energy_loss(images, probs, rois, label, 15., 10., 0.5, 'dense')
    s = downscale_energy_inputs(images, probs, rois, label, 0.5)
    assert full.item() == pytest.approx(dense_energy(*s, 15., 5., 'dense').item(), rel=1e-6)
    assert full.item() != pytest.approx(dense_energy(*s, 15., 10., 'dense').item(), rel=1e-3)


# ---------------------------------------------------- lattice vs exact, module


def test_permutohedral_energy_against_dense():
    """Measured on 3 smooth random 64 x 80 images (ToCo's sigmas at 0.5 scale): the
    lattice energy is 0.50-0.60 x the exact one (see docs/en/dense_energy_loss.md)."""
    g = torch.Generator().manual_seed(6)
    field = F.interpolate(
        torch.randn(3, 3, 4, 5, generator=g) * 3,
        size=(64, 80),
        mode='bilinear',
        align_corners=False)
    colours = torch.rand(3, 3, generator=g) * 255
    images = torch.einsum('bkhw,kc->bchw', torch.softmax(field * 4, 1), colours)
    probs = torch.softmax(field + torch.randn(3, 3, 64, 80, generator=g) * .2, 1)
    rois, label = torch.ones(3, 64, 80), torch.zeros(3, 1, 64, 80)
    for b in range(3):
        args = (images[b:b + 1], probs[b:b + 1], rois[b:b + 1], label[b:b + 1])
        ratio = dense_energy_loss(*args) / dense_energy_loss(*args, filter='dense')
        assert 0.45 < ratio.item() < 0.7


def test_matches_the_official_extension_if_installed():
    bf = pytest.importorskip('bilateralfilter')
    torch.manual_seed(7)
    images = torch.rand(2, 3, 30, 37) * 255
    segs = torch.softmax(torch.randn(2, 4, 30, 37), 1)
    out = np.zeros(segs.numel(), dtype=np.float32)
    bf.bilateralfilter_batch(images.numpy().flatten(),
                             segs.numpy().flatten(), out, 2, 4, 30, 37, 15., 50.)
    # 30 * 37 is not a multiple of 4: exercises the SSE padding too
    ours = bilateral_filter(images, segs, 15., 50., 'permutohedral')
    np.testing.assert_allclose(ours.numpy().ravel(), out, rtol=1e-5, atol=1e-6)


def test_module_and_registry():
    loss = MODELS.build(dict(type='DenseEnergyLoss'))
    assert isinstance(loss, DenseEnergyLoss)
    assert (loss.weight, loss.sigma_rgb, loss.sigma_xy, loss.scale_factor, loss.filter) == \
        (1e-7, 15., 100., .5, 'permutohedral')
    assert loss.loss_name == 'loss_reg'
    torch.manual_seed(8)
    images = torch.rand(2, 3, 24, 28) * 255
    probs = torch.softmax(torch.randn(2, 5, 24, 28), 1)
    rois, label = torch.ones(2, 24, 28), torch.zeros(2, 1, 24, 28)
    torch.testing.assert_close(
        loss(images, probs, rois, label), 1e-7 * dense_energy_loss(images, probs, rois, label))
    dense = DenseEnergyLoss(weight=2., filter='dense', loss_name='loss_crf')
    torch.testing.assert_close(
        dense(images, probs, rois, label),
        2 * dense_energy_loss(images, probs, rois, label, filter='dense'))
    assert dense.loss_name == 'loss_crf'
    with pytest.raises(ValueError, match='filter'):
        DenseEnergyLoss(filter='crf')
    with pytest.raises(ValueError, match='filter'):
        dense_energy_loss(images, probs, rois, label, filter='exact')


def test_energy_loss_inputs():
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    rgb = torch.rand(2, 3, 6, 8) * 255
    img = (rgb - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    logits = torch.randn(2, 4, 6, 8)
    label = torch.randint(0, 4, (2, 6, 8))
    images, probs, rois, seg_label = energy_loss_inputs(
        img, logits, label, img_box=[(1, 5, 2, 8), (0, 6, 0, 8)])
    torch.testing.assert_close(images, rgb, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(probs, torch.softmax(logits, 1))
    assert rois[0].sum() == 4 * 6 and rois[0, 1:5, 2:8].all() and rois[1].all()
    assert seg_label.shape == (2, 1, 6, 8)
    _, _, rois_all, _ = energy_loss_inputs(img, logits, label)
    assert rois_all.all()
