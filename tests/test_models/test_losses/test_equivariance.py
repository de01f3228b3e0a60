"""SEAM / CPN loss functions on hand-computed examples (mmwsss.models.losses.equivariance)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.equivariance import (adaptive_min_pooling_loss, bg_from_fg, cpn_cpcr_loss,
                                               cpn_losses, cpn_tcp_loss, max_norm, max_onehot,
                                               ohem_mean, seam_ecr_loss, seam_er_loss, seam_losses)
from mmwsss.models.utils.cam import labels_with_bg


def test_ohem_count_is_int_of_k_h_w_ratio():
    # 21 x 134 x 134 x 0.2 = 75415.2 -> k = 75415 (SEAM's view-2 size at crop 448)
    t = torch.zeros(1, 21, 134, 134)
    flat = t.view(-1)
    flat[:75415] = 1.0
    assert ohem_mean(t).item() == 1.0  # exactly the 75415 ones are selected
    flat[75414] = 0.0
    assert ohem_mean(t).item() == pytest.approx(75414 / 75415, abs=1e-7)


def test_ohem_per_sample_top_k():
    # 21 x 1 x 1 x 0.2 = 4.2 -> k = 4 per sample; mean over the 2 x 4 picks
    t = torch.stack([torch.arange(21.), torch.ones(21)]).view(2, 21, 1, 1)
    assert ohem_mean(t).item() == pytest.approx(((20 + 19 + 18 + 17) + 4) / 8)


def test_max_onehot_variants():
    # channels (bg, f1, f2) at two pixels
    x = torch.tensor([[5.0, 0.1], [0.2, 0.4], [0.7, 0.4]]).view(1, 3, 1, 2)
    seam = max_onehot(x, 'seam')
    # fg max kept with its VALUE, other fg zeroed, bg untouched; ties both kept
    assert torch.equal(seam.view(3, 2), torch.tensor([[5.0, 0.1], [0.0, 0.4], [0.7, 0.4]]))
    cpn = max_onehot(x, 'cpn')
    # max over all channels: pixel 0's winner is the background
    assert torch.equal(cpn.view(3, 2), torch.tensor([[5.0, 0.0], [0.0, 0.4], [0.0, 0.4]]))
    assert torch.equal(x.view(3, 2)[0], torch.tensor([5.0, 0.1]))  # out of place by default
    with pytest.raises(ValueError):
        max_onehot(x, 'other')


def test_max_onehot_inplace_quirk_mutates_through_detach():
    base = torch.tensor([[0.3, 0.2], [0.7, 0.1], [0.5, 0.8]]).view(1, 3, 1, 2)
    t = base.clone().requires_grad_(False)
    out = max_onehot(t.detach(), 'seam', inplace=True)
    assert out.data_ptr() == t.data_ptr()
    # the caller's tensor itself changed, as train_SEAM.py's max_onehot(cam2.detach()) does
    assert torch.equal(t.view(3, 2), torch.tensor([[0.3, 0.2], [0.7, 0.0], [0.0, 0.8]]))
    t2 = base.clone()
    max_onehot(t2.detach(), 'cpn', inplace=True)
    assert torch.equal(t2.view(3, 2), torch.tensor([[0.0, 0.0], [0.7, 0.0], [0.0, 0.8]]))


def test_adaptive_min_pooling_loss():
    # h*w = 8 -> k = 2 smallest per-pixel maxima per sample, relu, sum / (k * N)
    a = torch.tensor([0.5, -0.2, 0.1, 0.9, 0.3, 0.7, 0.2, 0.4])
    b = torch.arange(1., 9.)
    x = torch.stack([torch.stack([a, a - 1]), torch.stack([b - 5, b])]).view(2, 2, 2, 4)
    # sample 0 maxima = a -> (-0.2, 0.1) -> 0 + 0.1; sample 1 maxima = b -> 1 + 2
    assert adaptive_min_pooling_loss(x).item() == pytest.approx((0.1 + 3) / 4)


def test_max_norm_and_bg_from_fg():
    p = torch.tensor([-1.0, 0.0, 2.0, 4.0]).view(1, 1, 2, 2)
    # relu -> (0, 0, 2, 4); min 0, max 4: relu(v - 1e-5) / (4 + 1e-5)
    exp = torch.tensor([0.0, 0.0, (2 - 1e-5) / (4 + 1e-5), (4 - 1e-5) / (4 + 1e-5)])
    assert torch.allclose(max_norm(p).view(-1), exp)
    cam = torch.tensor([[9.0, 9.0], [0.2, 0.6], [0.5, 0.1]]).view(1, 3, 1, 2)
    assert torch.allclose(bg_from_fg(cam).view(3, 2)[0], torch.tensor([0.5, 0.4]))


def test_seam_er_and_ecr_by_hand():
    c1 = torch.tensor([[0.6, 0.4], [0.9, 0.3], [0.2, 0.35]]).view(1, 3, 1, 2)
    c2 = torch.tensor([[0.3, 0.2], [0.7, 0.1], [0.5, 0.8]]).view(1, 3, 1, 2)
    # fg |0.9-0.7|, |0.3-0.1|, |0.2-0.5|, |0.35-0.8| -> mean
    assert seam_er_loss(c1, c2).item() == pytest.approx((0.2 + 0.2 + 0.3 + 0.45) / 4)
    rv1 = torch.full((1, 3, 1, 2), 0.5, requires_grad=True)
    rv2 = torch.zeros(1, 3, 1, 2, requires_grad=True)
    # k = int(3 * 1 * 2 * 0.2) = 1. max_onehot(c2) = (0.3, 0.2 | 0.7, 0 | 0, 0.8):
    # |. - 0.5| max = 0.5; max_onehot(c1) = (0.6, 0.4 | 0.9, 0 | 0, 0.35): |. - 0| max 0.9
    loss = seam_ecr_loss(c1.clone().requires_grad_(), c2.clone().requires_grad_(), rv1, rv2)
    assert loss.item() == pytest.approx(1.4)


def test_seam_losses_targets_detached_and_cls_on_fg_gap():
    torch.manual_seed(0)
    cam1 = torch.randn(2, 21, 20, 20, requires_grad=True)
    rv1 = torch.rand(2, 21, 20, 20, requires_grad=True)
    cam2 = torch.randn(2, 21, 6, 6, requires_grad=True)
    rv2 = torch.rand(2, 21, 6, 6, requires_grad=True)
    labels = torch.zeros(2, 20)
    labels[0, 3] = labels[1, 7] = labels[1, 8] = 1
    out = seam_losses(cam1, rv1, cam2, rv2, labels)
    assert set(out) == {'loss_cls', 'loss_min', 'loss_er', 'loss_ecr'}
    exp_cls = (F.multilabel_soft_margin_loss(cam1.mean(
        (2, 3))[:, 1:], labels) + F.multilabel_soft_margin_loss(cam2.mean(
            (2, 3))[:, 1:], labels)) / 2
    assert torch.allclose(out['loss_cls'], exp_cls)
    # L_ECR reaches the raw CAMs only as a detached target: no gradient into cam1 / cam2
    g = torch.autograd.grad(out['loss_ecr'], [cam1, cam2, rv1, rv2], allow_unused=True)
    assert g[0] is None and g[1] is None and g[2] is not None and g[3] is not None
    # absent classes are masked out of L_ER
    g_er = torch.autograd.grad(out['loss_er'], cam2)[0]
    assert g_er[0, 1:4].abs().sum() == 0 and g_er[0, 4].abs().sum() > 0


def test_cpn_tcp_and_cpcr_by_hand():
    # one fg class, 1 x 2 pixels; pair maps already scaled by c / u
    n0 = torch.tensor([[0.0, 0.0], [0.8, 0.2]]).view(1, 2, 1, 2)
    n1 = torch.tensor([[0.0, 0.0], [0.5, 0.1]]).view(1, 2, 1, 2)
    n2 = torch.tensor([[0.0, 0.0], [0.2, 0.3]]).view(1, 2, 1, 2)
    rv = torch.tensor([[0.0, 0.0], [0.6, 0.6]]).view(1, 2, 1, 2)
    rv1 = torch.tensor([[0.0, 0.0], [0.3, 0.2]]).view(1, 2, 1, 2)
    rv2 = torch.tensor([[0.0, 0.0], [0.1, 0.1]]).view(1, 2, 1, 2)
    # |0.7 - 0.8|, |0.4 - 0.2| -> 0.15; |0.6-0.3-0.1|, |0.6-0.2-0.1| -> 0.25
    assert cpn_tcp_loss(n0, n1, n2, rv, rv1, rv2).item() == pytest.approx(0.4)
    b0, b1, b2, brv1, brv2 = (bg_from_fg(x) for x in (n0, n1, n2, rv1, rv2))
    # n0 - n1 = (bg 0.2-0.5=-0.3, 0.8-0.9=-0.1 | fg 0.3, 0.1) -> max over all channels keeps
    # fg (0.3, 0.1), bg zeroed; brv2 = (0.9, 0.9 | 0.1, 0.1): |.| = 0.9, 0.9, 0.2, 0 ->
    # k = int(2*1*2*0.2) = 0 would be empty: use ratio 0.5 (k = 2) -> mean(0.9, 0.9)
    # n0 - n2 = (bg 0.2-0.8=-0.6, 0.8-0.7=0.1 | fg 0.6, -0.1): pixel 1 max is bg 0.1 -> keeps
    # (0, 0.1 | 0.6, 0); brv1 = (0.7, 0.8 | 0.3, 0.2): |.| = 0.7, 0.7, 0.3, 0.2 -> top 2 = 0.7
    loss = cpn_cpcr_loss(b0, b1, b2, brv1, brv2, ratio=0.5)
    assert loss.item() == pytest.approx(0.9 + 0.7)


def test_cpn_losses_scales_pair_by_c_and_u():
    torch.manual_seed(1)
    maps = [torch.randn(2, 21, 8, 8) for _ in range(6)]
    labels = torch.zeros(2, 20)
    labels[:, 0] = 1
    c = torch.tensor([0.25, 0.5], dtype=torch.float64)
    out = cpn_losses(*maps, labels, c)
    label = labels_with_bg(labels)
    cn = [max_norm(m) * label for m in maps]
    u = (1 - c).float().view(-1, 1, 1, 1)
    cf = c.float().view(-1, 1, 1, 1)
    exp = ((cf * cn[2] + u * cn[4])[:, 1:] - cn[0][:, 1:]).abs().mean() + \
        (cn[1][:, 1:] - cf * cn[3][:, 1:] - u * cn[5][:, 1:]).abs().mean()
    assert torch.allclose(out['loss_tcp'], exp)
    assert math.isfinite(out['loss_cpcr'].item()) and out['loss_cpcr'] > 0
