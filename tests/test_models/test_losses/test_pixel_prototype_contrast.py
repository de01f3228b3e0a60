"""PPC's tensor functions on hand-computed inputs, and against a loop re-statement."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.pixel_prototype_contrast import (batch_topk_prototypes,
                                                           hard_pixel_indices, intra_view_nce,
                                                           ppc_cam_norm, ppc_losses,
                                                           ppc_pseudo_label, prototype_nce,
                                                           semi_hard_pixel_losses)

E = 1e-5


def test_ppc_cam_norm_keeps_the_negative_quirk():
    # one image, 3 channels, 3 pixels: raw values with a negative (ReLU'd) and a zero map
    cam = torch.tensor([[0.0, 1.0, 3.0], [-2.0, 2.0, 4.0], [0.0, 0.0, 0.0]]).view(1, 3, 1, 3)
    out = ppc_cam_norm(cam).view(3, 3)
    # channel 0: min 0 max 3; the min pixel is set to 0 then shifted: -(0 + e) / (3 + e)
    exp0 = torch.tensor([-E / (3 + E), (1 - E) / (3 + E), (3 - E) / (3 + E)])
    # channel 1: relu -> (0, 2, 4): min 0, max 4
    exp1 = torch.tensor([-E / (4 + E), (2 - E) / (4 + E), (4 - E) / (4 + E)])
    assert torch.allclose(out[0], exp0, atol=0, rtol=1e-6)
    assert torch.allclose(out[1], exp1, atol=0, rtol=1e-6)
    # an all-zero map becomes -1 everywhere (SEAM's max_norm would give 0)
    assert torch.allclose(out[2], torch.full((3, ), -1.0))
    # a map with min > 0: the min pixel becomes -(min + e) / (max - min + e)
    cam = torch.tensor([1.0, 2.0, 5.0]).view(1, 1, 1, 3)
    out = ppc_cam_norm(cam).view(-1)
    exp = torch.tensor([-(1 + E) / (4 + E), (1 - E) / (4 + E), (4 - E) / (4 + E)])
    assert torch.allclose(out, exp, atol=0, rtol=1e-6)


def test_pseudo_label_bg_constant_and_label_mask():
    # channels (bg, c1, c2); 3 pixels; only c2 present in the image
    cam = torch.tensor([[9.0, 9.0, 9.0], [0.0, 5.0, 10.0], [0.0, 1.0, 10.0]]).view(1, 3, 1, 3)
    labels = torch.tensor([[0.0, 1.0]])
    norm, y = ppc_pseudo_label(cam, labels, bg_thr=0.2)
    assert torch.equal(norm[0, 0], torch.full((1, 3), 0.2))
    # c2: (-(e)/(10+e), (1-e)/(10+e) ~ 0.1 < 0.2, ~1) -> bg, bg, c2; c1 is absent although
    # its value 0.5 at pixel 1 beats the bg
    assert y.tolist() == [[[0, 0, 2]]]
    # the norm keeps the absent class (the prototypes read it)
    assert norm[0, 1, 0, 2].item() == pytest.approx((10 - E) / (10 + E))
    # EPS variant: bg last, 0.10 -> pixel 1 (0.1 - tiny) is still bg; bg index is 2
    cam_eps = cam[:, [1, 2, 0]]
    norm, y = ppc_pseudo_label(cam_eps, torch.tensor([[0.0, 1.0]]), 0.10, 'last')
    assert torch.equal(norm[0, 2], torch.full((1, 3), 0.1))
    assert y.tolist() == [[[2, 2, 1]]]


def test_topk_prototype_is_over_the_whole_batch():
    # 2 images, 2 pixels each, D = 2, C = 2 channels, K = 2
    feats = torch.tensor([[[1.0, 3.0], [0.0, 0.0]], [[5.0, 0.0], [0.0, 1.0]]])  # (2, 2, 2)
    feats = feats.view(2, 2, 1, 2)  # img0: px0 (1, 0), px1 (3, 0); img1: px0 (5, 0), px1 (0, 1)
    cam = torch.tensor([[[0.2, 0.2], [0.9, 0.1]], [[0.2, 0.2], [0.5, 0.7]]]).view(2, 2, 1, 2)
    protos = batch_topk_prototypes(feats, cam, topk=2, topk_indices=None)
    # channel 1: top-2 of (0.9, 0.1, 0.5, 0.7) = img0 px0 (0.9) and img1 px1 (0.7);
    # weighted mean (0.9 * (1, 0) + 0.7 * (0, 1)) / 1.6, then L2
    exp = torch.tensor([0.9, 0.7]) / math.sqrt(0.81 + 0.49)
    assert torch.allclose(protos[1], exp, atol=1e-6)
    # the bg channel is a constant: its pixels are ties; injected indices fix them
    idx = torch.tensor([[1, 2], [0, 3]])  # bg: img0 px1 (3, 0) + img1 px0 (5, 0)
    protos = batch_topk_prototypes(feats, cam, topk=2, topk_indices=idx)
    assert torch.allclose(protos[0], torch.tensor([1.0, 0.0]))
    assert torch.allclose(protos[1], exp, atol=1e-6)
    # batch-level, not per image: two pixels of ONE image when it holds the top values
    cam2 = cam.clone()
    cam2[0, 1] = torch.tensor([0.9, 0.8])  # now img0's two pixels are the top-2
    protos = batch_topk_prototypes(feats, cam2, topk=2)
    # (0.9 * (1, 0) + 0.8 * (3, 0)) / 1.7 -> direction (1, 0)
    assert torch.allclose(protos[1], torch.tensor([1.0, 0.0]), atol=1e-6)
    with pytest.raises(ValueError, match='topk_indices'):
        batch_topk_prototypes(feats, cam, topk=2, topk_indices=idx[:, :1])


def test_topk_weights_are_the_plain_sum_and_all_zero_maps_are_finite():
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).t().reshape(1, 2, 1, 2)
    # an all-zero raw map normalises to -1 everywhere: the weighted mean is a plain mean
    norm = ppc_cam_norm(torch.zeros(1, 1, 1, 2))
    protos = batch_topk_prototypes(feats, norm, topk=2)
    assert torch.allclose(protos[0], torch.tensor([1.0, 1.0]) / math.sqrt(2))


def test_prototype_nce_by_hand():
    protos = torch.eye(2)
    feats = torch.tensor([2.0, 0.0]).view(1, 2, 1, 1)  # z = (1, 0) after L2
    labels = torch.zeros(1, 1, 1, dtype=torch.long)
    # -log(e^10 / (e^10 + e^0))
    assert prototype_nce(feats, protos, labels, 0.1).item() == pytest.approx(
        math.log(1 + math.exp(-10)), abs=1e-6)
    labels = torch.ones(1, 1, 1, dtype=torch.long)
    assert prototype_nce(feats, protos, labels, 0.1).item() == pytest.approx(
        math.log(1 + math.exp(10)), rel=1e-5)


def _one_hot_setup(z):
    """16 one-hot prototypes and one pixel whose scores are z."""
    protos = torch.eye(16)
    feats = torch.tensor(z + [0.0] * (16 - len(z))).view(1, 16, 1, 1)
    return feats, protos


def test_semi_hard_mining_count_is_eleven():
    # a pixel orthogonal to every prototype: all 21 scores 0 -> the set is the positive + 10
    feats = torch.zeros(1, 32, 1, 1)
    feats[0, 31] = 1.0
    protos = torch.eye(32)[:21]
    loss, sim = semi_hard_pixel_losses(feats, protos, torch.zeros(1, 1, 1, dtype=torch.long))
    assert loss.item() == pytest.approx(math.log(11))  # not log 21 (all) nor log 10
    assert sim.item() == pytest.approx(0.5)


def test_semi_hard_mining_drops_top3_and_keeps_a_duplicate_positive():
    # scores: c0 .8, c1 .4, c2 .4, c3 .2, 12 zeros (unit norm: .64 + .16 + .16 + .04 = 1)
    feats, protos = _one_hot_setup([0.8, 0.4, 0.4, 0.2])
    y3 = torch.full((1, 1, 1), 3, dtype=torch.long)
    loss, _ = semi_hard_pixel_losses(feats, protos, y3, tau=0.1)
    # ranks 4..13 = c3 (0.2) + 9 zeros; the positive c3 appears twice
    assert loss.item() == pytest.approx(math.log(2 * math.exp(2) + 9) - 2, rel=1e-5)
    y0 = torch.zeros(1, 1, 1, dtype=torch.long)
    loss, sim = semi_hard_pixel_losses(feats, protos, y0, tau=0.1)
    # the positive c0 is among the dropped top 3: set = {c0} + {c3, 9 zeros}
    assert loss.item() == pytest.approx(math.log(math.exp(8) + math.exp(2) + 9) - 8, abs=1e-6)
    assert sim.item() == pytest.approx(0.9)


@pytest.mark.parametrize(
    'sim,exp',
    [
        ([0.9, 0.1], [1]),
        ([0.9, 0.1, 0.5], [1]),
        ([0.9, 0.1, 0.5, 0.3, 0.7], [3, 2]),  # lowest int(3.0) = (1, 3, 2), keep the last 2
        ([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8], [5, 3, 2]),  # lowest int(4.2) = 4, last 3
        ([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], [1, 2, 3, 4, 5]),  # drops the lowest
    ])
def test_hard_pixel_indices_by_hand(sim, exp):
    assert hard_pixel_indices(torch.tensor(sim)).tolist() == exp


def test_intra_view_counts_skipped_classes():
    # 21 orthogonal prototypes, every pixel loss = log 11; labels: class 0 x3, class 5 x1
    feats = torch.zeros(1, 32, 1, 4)
    feats[0, 31] = 1.0
    protos = torch.eye(32)[:21]
    labels = torch.tensor([0, 0, 5, 0]).view(1, 1, 4)
    calls = []

    def sampler(n, k):
        calls.append((n, k))
        return torch.arange(k)

    loss = intra_view_nce(feats, protos, labels, sampler=sampler)
    assert calls == [(3, 1)]  # class 5 (one pixel) is skipped ...
    assert loss.item() == pytest.approx(math.log(11) / 2)  # ... but counted in C = 2


def test_intra_view_subsets_by_hand():
    # 4 pixels of class 0 with distinct losses; the mean is over random + hard subsets
    feats = torch.zeros(1, 16, 1, 4)
    scores = [0.8, 0.6, 0.0, -0.4]  # z . P0 for the four pixels
    for i, s in enumerate(scores):
        feats[0, 0, 0, i] = s
        feats[0, 15, 0, i] = math.sqrt(1 - s * s)
    protos = torch.eye(16)[:14]
    labels = torch.zeros(1, 1, 4, dtype=torch.long)
    per_pixel, sim = semi_hard_pixel_losses(feats, protos, labels)
    loss = intra_view_nce(feats, protos, labels, sampler=lambda n, k: torch.tensor([0, 2]))
    # hard: lowest int(2.4) = 2 by sim = pixels (3, 2); keep the last n // 2 = 2 -> (3, 2)
    exp = per_pixel[[0, 2, 3, 2]].mean()
    assert loss.item() == pytest.approx(exp.item())
    # the per-pixel loss itself: set = {pos} + ranks 4..13 (prototypes 1..13 score 0)
    s = scores[3]
    assert per_pixel[3].item() == pytest.approx(math.log(math.exp(s / 0.1) + 10) - s / 0.1)


def test_intra_view_generator_is_reproducible():
    torch.manual_seed(0)
    feats = torch.randn(2, 8, 4, 4)
    protos = F.normalize(torch.randn(21, 8), dim=-1)
    labels = torch.randint(0, 4, (2, 4, 4))
    a = intra_view_nce(feats, protos, labels, generator=torch.Generator().manual_seed(3))
    b = intra_view_nce(feats, protos, labels, generator=torch.Generator().manual_seed(3))
    assert a.item() == b.item()


# ---- a loop re-statement of the training-loop block, to check the composition ----


def _loop_reference(cam1, f1, cam2, f2, labels, idx1, idx2, subsets, bg_thr=0.2, div=8):

    def grid(x):
        return F.interpolate(x, size=(16, 16), mode='bilinear', align_corners=True)

    cam1, f1, cam2, f2 = grid(cam1), grid(f1), grid(cam2), grid(f2)
    lab = torch.cat([torch.ones(labels.shape[0], 1), labels], 1)[..., None, None]

    def norm_label(cam):
        x = F.relu(cam).clone()
        n, c = x.shape[:2]
        mx = x.view(n, c, -1).max(-1)[0].view(n, c, 1, 1)
        mn = x.view(n, c, -1).min(-1)[0].view(n, c, 1, 1)
        x[x < mn + E] = 0
        x = (x - mn - E) / (mx - mn + E)
        x[:, 0] = bg_thr
        return x, F.softmax(x * lab, 1).argmax(1).reshape(-1)

    def protos(x, f, idx):
        c = x.shape[1]
        vals = x.transpose(0, 1).reshape(c, -1)
        ff = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])
        out = torch.zeros(c, f.shape[1])
        for i in range(c):
            v = vals[i, idx[i]]
            out[i] = (v[:, None] * ff[idx[i]]).sum(0) / v.sum()
        return F.normalize(out, dim=-1)

    n1, y1 = norm_label(cam1)
    n2, y2 = norm_label(cam2)
    p1, p2 = protos(n1, f1, idx1), protos(n2, f2, idx2)
    z1 = F.normalize(f1.permute(0, 2, 3, 1).reshape(-1, f1.shape[1]), dim=-1)
    z2 = F.normalize(f2.permute(0, 2, 3, 1).reshape(-1, f2.shape[1]), dim=-1)

    def nce(z, p, y):
        a = torch.exp((z * p[y]).sum(-1) / 0.1)
        b = torch.exp(z @ p.t() / 0.1).sum(-1)
        return (-torch.log(a / b)).mean()

    def intra(z, p, y, sub):
        pos = p[y]
        a = torch.exp((z * pos).sum(-1) / 0.1)
        sim = ((z * pos).sum(-1) + 1) / 2
        low = torch.topk(z @ p.t(), k=13, dim=-1)[1][:, 3:]
        negs = torch.cat([pos[:, None], p[low]], 1)
        b = torch.exp((z[:, None] * negs).sum(-1) / 0.1).sum(-1)
        total, count = 0.0, 0
        for c in range(p.shape[0]):
            m = y == c
            if m.sum() == 0:
                continue
            count += 1
            n = int(m.sum())
            if n < 2:
                continue
            ac, bc, sc = a[m], b[m], sim[m]
            r = sub[c]
            k = int(n * 0.6)
            hard = torch.topk(sc, k=k, largest=False)[1][k - n // 2:]
            sel = torch.cat([r, hard])
            total = total + (-torch.log(ac[sel] / bc[sel])).mean()
        return total / count

    return dict(
        loss_cross=0.1 * (nce(z1, p2, y1) + nce(z2, p1, y2)) / 2,
        loss_cross_pl=0.1 * (nce(z1, p1, y2) + nce(z2, p2, y1)) / 2,
        loss_intra=0.1 * (intra(z1, p1, y1, subsets[0]) + intra(z2, p2, y2, subsets[1])) / 2)


def test_ppc_losses_match_a_loop_restatement():
    torch.manual_seed(1)
    n = 3
    # view 1 on a 23 x 19 grid (resized to 16 x 16, not a multiple), view 2 on 16 x 16
    cam1, cam2 = torch.randn(n, 21, 23, 19) * 3, torch.randn(n, 21, 16, 16) * 3
    f1, f2 = F.relu(torch.randn(n, 128, 23, 19)), F.relu(torch.randn(n, 128, 16, 16))
    labels = torch.zeros(n, 20)
    labels[0, [2, 7]] = 1
    labels[1, 7] = 1
    labels[2, [0, 4, 19]] = 1
    k = 16 * 16 // 8
    # fixed prototype pixels (random distinct indices, the bg ties included)
    idx1 = torch.stack([torch.randperm(n * 256)[:k] for _ in range(21)])
    idx2 = torch.stack([torch.randperm(n * 256)[:k] for _ in range(21)])
    # the random subsets are fixed per (view, class): record what ppc_losses draws
    drawn = []

    def sampler(size, count):
        sel = torch.randperm(size)[:count]
        drawn.append(sel)
        return sel

    f1g, f2g = f1.clone().requires_grad_(), f2.clone().requires_grad_()
    got = ppc_losses(cam1, f1g, cam2, f2g, labels, topk_indices=(idx1, idx2), sampler=sampler)
    # map the draws back to their classes, in the official order (view 1, then view 2)
    subsets, it = [{}, {}], iter(drawn)
    for v, cam in enumerate((cam1, cam2)):
        _, y = ppc_pseudo_label(
            F.interpolate(cam, size=(16, 16), mode='bilinear', align_corners=True), labels)
        y = y.reshape(-1)
        for c in range(21):
            if int((y == c).sum()) >= 2:
                subsets[v][c] = next(it)
    exp = _loop_reference(cam1, f1, cam2, f2, labels, idx1, idx2, subsets)
    for key in exp:
        assert got[key].item() == pytest.approx(exp[key].item(), abs=1e-6), key
    sum(got.values()).backward()
    assert f1g.grad.abs().sum() > 0 and f2g.grad.abs().sum() > 0


def test_ppc_losses_eps_variant_options():
    torch.manual_seed(2)
    cam1, cam2 = torch.randn(2, 21, 16, 16), torch.randn(2, 21, 16, 16)
    f1, f2 = torch.rand(2, 8, 16, 16), torch.rand(2, 8, 16, 16)
    labels = torch.zeros(2, 20)
    labels[:, 3] = 1
    g = torch.Generator()
    # bg moved from channel 0 to the last channel: the EPS call on the rotated maps equals
    # the SEAM call on the original ones (same pixels, prototypes permuted with the labels;
    # the intra-view loss draws its classes in another order, so only the cross losses)
    rot = [*range(1, 21), 0]
    eps = ppc_losses(
        cam1[:, rot],
        f1,
        cam2[:, rot],
        f2,
        labels,
        bg_channel='last',
        bg_thr=0.1,
        topk_div=16,
        gamma=0.1,
        generator=g.manual_seed(0))
    seam = ppc_losses(
        cam1, f1, cam2, f2, labels, bg_thr=0.1, topk_div=16, generator=g.manual_seed(0))
    for key in ('loss_cross', 'loss_cross_pl'):
        assert eps[key].item() == pytest.approx(seam[key].item(), rel=1e-5)
    half = ppc_losses(cam1, f1, cam2, f2, labels, gamma=0.05, generator=g.manual_seed(0))
    full = ppc_losses(cam1, f1, cam2, f2, labels, gamma=0.1, generator=g.manual_seed(0))
    assert full['loss_cross'].item() == pytest.approx(2 * half['loss_cross'].item())
    with pytest.raises(ValueError, match='bg_channel'):
        ppc_losses(cam1, f1, cam2, f2, labels, bg_channel='middle')
