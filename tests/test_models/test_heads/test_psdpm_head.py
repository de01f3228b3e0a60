"""PSDPM's tensor functions (network/resnet50_psdpm.py, make_cam.py) on hand-computed cases."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmwsss.models.heads.psdpm_head import (PSDPMHead, is_cam1, merge_levels, multi_level_cam,
                                            pcm_affinity, pcm_attention, prototype_cam, psdpm_score)
from mmwsss.models.heads.sipe_head import sipe_norm_cam


def _head(c=2, chans=(4, 6, 8)):
    init_default_scope('mmwsss')
    return PSDPMHead(
        in_channels=chans[-1],
        num_classes=c,
        level_in_channels=chans,
        side_channels=(3, 5, 5),
        loss_decode=dict(type='MultiLabelSoftMarginLoss'))


def test_merge_levels_is_the_1_75_rule():
    # stage order (x2, x3, x4), weights (0.25, 0.5, 1): (cam4 + 0.5 cam3 + 0.25 cam2) / 1.75
    c2 = torch.tensor([0.8, 0.0]).view(1, 1, 1, 2)
    c3 = torch.tensor([0.4, 1.0]).view(1, 1, 1, 2)
    c4 = torch.tensor([1.0, 0.2]).view(1, 1, 1, 2)
    out = merge_levels([c2, c3, c4], (0.25, 0.5, 1.0))
    # pixel 0: (1 + 0.2 + 0.2) / 1.75 = 0.8; pixel 1: (0.2 + 0.5 + 0) / 1.75 = 0.4
    assert torch.allclose(out.flatten(), torch.tensor([0.8, 0.4]))
    # the weight 1 sits on the LAST (x4) level: reversing the list changes the result
    assert not torch.allclose(merge_levels([c4, c3, c2], (0.25, 0.5, 1.0)), out)
    with pytest.raises(ValueError):
        merge_levels([c2, c3], (0.25, 0.5, 1.0))


def test_multi_level_cam_by_hand():
    # one class; x4 CAM [2, 1] on 1x2; x3 and x2 CAMs on other grids are resized
    # (bilinear, align_corners=True) after their own max normalisation
    e = 1e-5
    c4 = torch.tensor([2.0, 1.0]).view(1, 1, 1, 2)
    c3 = torch.tensor([-1.0, 4.0]).view(1, 1, 1, 2)  # relu: [0, 4] -> [0, 1]
    c2 = torch.tensor([3.0, 3.0, 0.0, 0.0]).view(1, 1, 1, 4)  # -> [1, 1, 0, 0]
    valid = torch.ones(1, 2, 1, 2)
    out = multi_level_cam([c2, c3, c4], (1, 2), valid)
    n4 = torch.tensor([2 / (2 + e), 1 / (2 + e)])
    n3 = torch.tensor([0.0, 4 / (4 + e)])
    n2 = torch.tensor([3 / (3 + e), 0.0])  # align_corners=True keeps the end points
    fg = (n4 + 0.5 * n3 + 0.25 * n2) / 1.75
    bg = ((1 - n4) + 0.5 * (1 - n3) + 0.25 * (1 - n2)) / 1.75
    assert torch.allclose(out[0, 0, 0], bg, atol=1e-6)
    assert torch.allclose(out[0, 1, 0], fg, atol=1e-6)
    # the valid mask multiplies every level before the merge
    masked = multi_level_cam([c2, c3, c4], (1, 2), torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
    assert torch.equal(masked[0, 1], torch.zeros(1, 2))


def test_pcm_attention_plus_five_x_by_hand():
    # g = [1, 0] on a 1x2 grid: g^T g = [[1, 0], [0, 0]]; row softmax
    g = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    aff = pcm_affinity(g)
    e = math.e
    assert torch.allclose(aff[0], torch.tensor([[e / (e + 1), 1 / (e + 1)], [0.5, 0.5]]))
    # two channels, non-symmetric values: att = (aff x^T)^T + 5 x
    x = torch.tensor([[3.0, 7.0], [1.0, -1.0]]).view(1, 2, 1, 2)
    att = pcm_attention(aff, x)
    p, q = e / (e + 1), 1 / (e + 1)
    expected = torch.tensor([[p * 3 + q * 7 + 15, 0.5 * 3 + 0.5 * 7 + 35],
                             [p * 1 - q * 1 + 5, 0.0 - 5]])
    assert torch.allclose(att[0, :, 0], expected, atol=1e-6)
    # residual factor is the 5 (not 1): without it the result differs by 4 x
    assert torch.allclose(att - pcm_attention(aff, x, residual=1.0), 4 * x)


def test_pcm_attention_matches_a_loop_on_a_non_square_grid():
    torch.manual_seed(0)
    g = torch.randn(2, 3, 2, 3)
    x = torch.randn(2, 4, 2, 3)
    aff = pcm_affinity(g)
    att = pcm_attention(aff, x)
    gf, xf = g.flatten(2), x.flatten(2)
    for b in range(2):
        a = torch.softmax(gf[b].t() @ gf[b], dim=-1)  # (hw, hw)
        ref = (a @ xf[b].t()).t() + 5 * xf[b]
        assert torch.allclose(att[b].flatten(1), ref, atol=1e-5)


def test_prototype_cam_by_hand():
    # hie: p0 = (1, 0), p1 = (0, 1); soft weights w_bg = [1, 0], w_fg = [0.5, 0.5]
    hie = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    w = torch.tensor([[1.0, 0.0], [0.5, 0.5]]).view(1, 2, 1, 2)
    # P_bg = (1, 0) / 2, P_fg = (0.25, 0.25) (avg pool: / h w, not / weight mass)
    raw = torch.tensor([[1.0, -1.0], [1.0, 0.0]]).view(1, 2, 1, 2)  # q0 = (1, 1), q1 = (-1, 0)
    pcam = prototype_cam(w, hie, raw)
    expected = torch.tensor([[1 / math.sqrt(2), 0.0], [1.0, 0.0]])
    assert torch.allclose(pcam[0, :, 0], expected, atol=1e-6)
    # prototypes come from hie (refined), cosines from raw: swapping them changes it
    assert not torch.allclose(prototype_cam(w, raw, hie), pcam)
    valid = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    assert torch.equal(prototype_cam(w, hie, raw, valid)[0, 1], torch.zeros(1, 2))


def test_is_cam1_bg_plus_0_4():
    # bg = [1, 0.5], fg = [0.25, 0.4]: x_fg = [0.625, 1]; IS_CAM1 bg = x_bg + 0.4, fg = 2 x_fg
    merged = torch.tensor([[1.0, 0.5], [0.25, 0.4]]).view(1, 2, 1, 2)
    out = is_cam1(merged)
    e = 1e-5
    bg = torch.tensor([1 / (1 + e), 0.5 / (1 + e)]) + 0.4
    fg = 2 * torch.tensor([0.25, 0.4]) / (0.4 + e)
    assert torch.allclose(out[0, 0, 0], bg, atol=1e-6)
    assert torch.allclose(out[0, 1, 0], fg, atol=1e-6)
    # pixel 0: bg 1.4 beats fg 1.25 only thanks to the +0.4 (x alone: bg 1.0 < fg 1.25)
    assert out.argmax(1).flatten().tolist() == [0, 1]
    no_pad = is_cam1(merged, bg_pad=0.0)
    assert no_pad.argmax(1).flatten().tolist() == [1, 1]


def test_score_is_six_gap_logits_and_orig_is_the_merge():
    torch.manual_seed(0)
    head = _head()
    head.init_weights()
    feats = (torch.randn(2, 4, 6, 10), torch.randn(2, 6, 3,
                                                   5), torch.randn(2, 8, 3,
                                                                   5), torch.randn(2, 3, 24, 40))
    valid = torch.ones(2, 3, 3, 5)
    valid[1, 2] = 0  # image 1 lacks class 2
    out = head.train_outputs(feats, valid)
    xs = feats[:3]
    cams = [head.aux_classifiers[0](xs[0]), head.aux_classifiers[1](xs[1]), head.conv_seg(xs[2])]
    atts = head.refine(xs, feats[-1])
    cams_att = [
        head.aux_classifiers[0](atts[0]), head.aux_classifiers[1](atts[1]),
        head.conv_seg(atts[2])
    ]
    score = sum(c.mean((2, 3)) for c in cams + cams_att)
    assert torch.allclose(out['score'], score, atol=1e-5)
    assert torch.allclose(
        psdpm_score([c.mean((2, 3)) for c in cams]), sum(c.mean((2, 3)) for c in cams), atol=1e-6)
    n = [sipe_norm_cam(c, (3, 5), valid) for c in cams]
    assert torch.allclose(out['orig'], (n[2] + 0.5 * n[1] + 0.25 * n[0]) / 1.75, atol=1e-6)
    assert out['cam22'].shape == out['pcam'].shape == (2, 3, 3, 5)
    assert torch.equal(out['pcam'][1, 2], torch.zeros(3, 5))
    # the PCM input image is resized with align_corners=True to each level
    rgb = F.interpolate(feats[-1], size=(6, 10), mode='bilinear', align_corners=True)
    g = F.relu(head.pcm_out[0](F.relu(head.pcm_in[0](torch.cat([rgb, xs[0]], 1)))))
    assert torch.allclose(atts[0], pcm_attention(pcm_affinity(g), xs[0]), atol=1e-5)
    # gradients reach the PCM convs, the sides and the lower-level classifiers
    (out['pcam'].sum() + out['cam22'].sum() + out['score'].sum()).backward()
    for mod in (head.pcm_in[2], head.pcm_out[0], head.sides[0], head.aux_classifiers[1]):
        assert mod.weight.grad is not None and mod.weight.grad.abs().sum() > 0


class _FakeBranch:

    def __init__(self, feats):
        self.feats = feats
        self.batches = []

    def extract_feat(self, x):
        self.batches.append(x.shape[0])
        return self.feats


def test_label_cam_fn_is_the_masked_multi_level_classifier_cam():
    torch.manual_seed(1)
    head = _head()
    feats = (torch.randn(1, 4, 6, 10), torch.randn(1, 6, 3,
                                                   5), torch.randn(1, 8, 3,
                                                                   5), torch.randn(1, 3, 24, 40))
    branch = _FakeBranch(feats)
    labels = torch.tensor([[1.0, 0.0]])
    with torch.no_grad():
        out = head.label_cam_fn(branch, labels)(torch.zeros(1, 3, 24, 40))
        cams = head.classifier_cams(feats[:3])
        ref = multi_level_cam(cams, (3, 5), torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1))
    assert branch.batches == [1]  # the official discards the flip: not run by default
    assert torch.allclose(out, ref)
    assert torch.equal(out[0, 2], torch.zeros(3, 5))
    # merge: sum over scales, IS_CAM1, / 2
    merged = head.merge_label_cams([out, 2 * out], (1.0, 0.5))
    assert torch.allclose(merged, is_cam1(3 * out) / 2)
    assert merged.max() <= 1.0


def test_head_checks():
    init_default_scope('mmwsss')
    with pytest.raises(ValueError, match='last level'):
        PSDPMHead(in_channels=4, num_classes=2, level_in_channels=(4, 6, 8))
    with pytest.raises(ValueError, match='one level weight'):
        PSDPMHead(in_channels=8, num_classes=2, level_in_channels=(4, 6, 8), level_weights=(1.0, ))
    hie = torch.rand(1, 3, 2, 2)
    with pytest.raises(ValueError, match='grid'):
        prototype_cam(torch.rand(1, 2, 2, 2), hie, hie, torch.ones(1, 2, 4, 4))
