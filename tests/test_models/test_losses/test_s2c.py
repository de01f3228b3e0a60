"""S2C's losses on inputs worked out by hand (sangrockEG/S2C models/model_s2c.py)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.terms.s2c import (cpm_loss, s2c_cam_norm, s2c_multi_scale_cam,
                                            segment_prototypes, ssc_loss)

R2 = 1 / math.sqrt(2)


def _feat_and_segments(seg):
    # 4 pixels in a row; raw features (1, 0), (0, 1), (1, 0), (3, -4) -> normalised
    # f0 = (1, 0), f1 = (0, 1), f2 = (1, 0), f3 = (0.6, -0.8)
    feat = torch.tensor([[1., 0., 1., 3.], [0., 1., 0., -4.]]).view(1, 2, 1, 4)
    return feat.requires_grad_(), torch.tensor(seg).view(1, 1, 4)


def test_segment_prototypes_are_normalised_means():
    f = F.normalize(torch.tensor([[1., 0., 1., 3.], [0., 1., 0., -4.]]), dim=0)[None]
    protos, counts = segment_prototypes(f, torch.tensor([[1, 1, 3, 0]]), 4)
    # seg 1 = mean((1,0), (0,1)) = (.5, .5) -> (1/sqrt2, 1/sqrt2); seg 3 = (1, 0);
    # seg 0 = (0.6, -0.8); seg 2 has no pixel -> the zero vector
    expect = torch.tensor([[0.6, R2, 0., 1.], [-0.8, R2, 0., 0.]])
    assert torch.allclose(protos[0], expect, atol=1e-6)
    assert counts.tolist() == [[1., 2., 0., 1.]]


def test_ssc_loss_image_columns_by_hand():
    # target columns {1, 2} (index 0 ignored): p1 = (1/sqrt2, 1/sqrt2), p2 = (1, 0)
    #   pixel 0 (1, 0), target 1: log(1 + e^(1 - .70711)) = 0.85030
    #   pixel 1 (0, 1), target 1: log(1 + e^(0 - .70711)) = 0.40083
    #   pixel 2 (1, 0), target 2: log(1 + e^(.70711 - 1)) = 0.55739
    feat, seg = _feat_and_segments([1, 1, 2, 0])
    loss = ssc_loss(feat, seg, columns='image')
    assert loss.item() == pytest.approx((0.85030 + 0.40083 + 0.55739) / 3, abs=1e-4)
    # a gap in the indices (2 absent, 3 present) changes nothing in 'image' mode
    feat, seg = _feat_and_segments([1, 1, 3, 0])
    assert ssc_loss(feat, seg, columns='image').item() == pytest.approx(0.60284, abs=1e-4)


def test_ssc_loss_batch_columns_official_quirk():
    # official: every index 0..max is a column: the ignored pixels' prototype
    # p0 = (0.6, -0.8) competes, and an absent index has a zero prototype (logit 0)
    #   [1, 1, 2, 0]: pixel 0: log(e^.70711 + e + e^.6) - .70711 = 1.17519
    #                 pixel 1: log(e^.70711 + 1 + e^-.8) - .70711 = 0.53918
    #                 pixel 2: log(e + e^.70711 + e^.6) - 1        = 0.88230
    feat, seg = _feat_and_segments([1, 1, 2, 0])
    assert ssc_loss(
        feat, seg, columns='batch').item() == pytest.approx(
            (1.17519 + 0.53918 + 0.88230) / 3, abs=1e-4)
    #   [1, 1, 3, 0]: + one e^0 of the empty index 2 in every denominator:
    #                 1.31689, 0.79197, 1.02400
    feat, seg = _feat_and_segments([1, 1, 3, 0])
    assert ssc_loss(
        feat, seg, columns='batch').item() == pytest.approx(
            (1.31689 + 0.79197 + 1.02400) / 3, abs=1e-4)


def test_ssc_prototypes_are_detached():
    feat, seg = _feat_and_segments([1, 1, 2, 0])
    ssc_loss(feat, seg).backward()
    g = feat.grad.clone()
    # the same loss with the prototypes as constants
    protos = torch.tensor([[R2, R2], [1., 0.]])  # rows: segments 1, 2
    x = feat.detach().clone().requires_grad_()
    fn = F.normalize(x, dim=1).view(2, 4)
    logits = protos @ fn[:, :3]  # (2, 3)
    loss = F.cross_entropy(logits.t(), torch.tensor([0, 0, 1]))
    loss.backward()
    assert torch.allclose(g, x.grad, atol=1e-6)


def test_ssc_loss_no_valid_pixel_is_zero_not_nan():
    feat, seg = _feat_and_segments([0, 0, 0, 0])
    loss = ssc_loss(feat, seg)
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(feat.grad).all()


def test_ssc_loss_upsamples_features():
    feat = torch.randn(2, 8, 3, 5, requires_grad=True)
    seg = torch.randint(0, 6, (2, 13, 19))  # not a multiple of the 3 x 5 grid
    for cols in ('image', 'batch'):
        loss = ssc_loss(feat, seg, temperature=2.0, columns=cols)
        assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(feat.grad).all()


def test_cpm_loss_by_hand():
    # class 0 raw [2, -1] -> [.999995, 0]; class 1 raw [1, 3] -> [.333332, .999997]
    cam = torch.tensor([[[[2., -1.]], [[1., 3.]]]])
    target = torch.tensor([[[0, 2]]])  # pixel 0: class 0, pixel 1: background (index C = 2)
    # both classes present: bg = [5e-6, 3e-6]
    #   pixel 0 logits (.999995, .333332, 5e-6), target 0: 0.63196
    #   pixel 1 logits (0, .999997, 3e-6), target 2: 1.55142
    both = cpm_loss(cam, torch.tensor([[1., 1.]]), target)
    assert both.item() == pytest.approx((0.63196 + 1.55142) / 2, abs=1e-4)
    # class 1 absent: zeroed before the bg channel: logits (1, 0, 0) / (0, 0, 1) -> 0.55144
    one = cpm_loss(cam, torch.tensor([[1., 0.]]), target)
    assert one.item() == pytest.approx(math.log(math.e + 2) - 1, abs=1e-4)
    # ignore 255
    ign = cpm_loss(cam, torch.tensor([[1., 1.]]), torch.tensor([[[0, 255]]]))
    assert ign.item() == pytest.approx(0.63196, abs=1e-4)


def test_s2c_cam_norm_and_multi_scale_cam():
    cam = torch.tensor([[[[2., -1.], [0.5, 1.]]]])
    assert torch.allclose(s2c_cam_norm(cam), torch.tensor([[[[1., 0.], [.25, .5]]]]), atol=1e-5)
    # a linear "network" (cam = first channel, same size): every scale gives the input
    # back after the resize (up to bilinear), so the sum of 4 scales normalises to x / max
    x = torch.rand(1, 3, 8, 8)
    calls = []

    def cam_fn(img):
        calls.append(tuple(img.shape[-2:]))
        return torch.cat([img[:, :1], -img[:, 1:2]], 1)

    out = s2c_multi_scale_cam(cam_fn, x, torch.tensor([[1., 1.]]))
    # scale_factor sizes floor(s * 8); scale 1 is the input itself
    assert calls == [(4, 4), (8, 8), (12, 12), (16, 16)]
    assert out.shape == (1, 2, 8, 8)
    assert out[0, 1].abs().max() == 0  # ReLU of a negative map
    assert out[0, 0].max().item() == pytest.approx(1.0, abs=1e-4)
    # absent class masked
    out = s2c_multi_scale_cam(cam_fn, x, torch.tensor([[0., 1.]]))
    assert out.abs().max() == 0
