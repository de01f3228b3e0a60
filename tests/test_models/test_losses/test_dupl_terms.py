"""DuPL's losses: feature discrepancy and strong-view consistency, worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmwsss.models.losses.feature_discrepancy import feature_discrepancy_loss
from mmwsss.models.losses.strong_view_consistency import (consistency_targets,
                                                          strong_view_consistency_loss)
from mmwsss.models.losses.terms import DiscrepancyTerm, StrongConsistencyTerm
from mmwsss.structures import BranchOutput, TrainContext


# ------------------------------------------------------------------ discrepancy
def test_discrepancy_loss_by_hand():
    # (1, 2, 1, 2): channel 0 of a = [1, 0], of b = [0, 1] -> cos 0;
    # channel 1 of a = [1, 1], of b = [-1, -1] -> cos -1. mean cos = -0.5
    a = torch.tensor([[[[1., 0.]], [[1., 1.]]]])
    b = torch.tensor([[[[0., 1.]], [[-1., -1.]]]])
    # (1 + (-0.5)) + (1 + (-0.5)) = 1.0
    assert feature_discrepancy_loss(a, b).item() == pytest.approx(1.0)
    # identical maps: 2 * (1 + 1) = 4
    assert feature_discrepancy_loss(a, a).item() == pytest.approx(4.0)


def test_discrepancy_cosine_runs_along_space_not_channels():
    # a and b equal up to a per-channel positive scale: cos along space is 1 everywhere,
    # along channels it would not be
    torch.manual_seed(0)
    a = torch.randn(2, 3, 3, 5)
    b = a * torch.tensor([1., 5., 0.2])[None, :, None, None]
    assert feature_discrepancy_loss(a, b).item() == pytest.approx(4.0, abs=1e-5)
    # the official nn.CosineSimilarity(dim=-1) on (B, C, HW)
    c = torch.randn(2, 3, 3, 5)
    cos = nn.CosineSimilarity(dim=-1, eps=1e-6)
    fa, fc = a.view(2, 3, -1), c.view(2, 3, -1)
    ref = (1 + cos(fa, fc).mean()) + (1 + cos(fc, fa).mean())
    assert feature_discrepancy_loss(a, c).item() == pytest.approx(ref.item(), abs=1e-6)


def test_discrepancy_each_half_moves_one_branch():
    torch.manual_seed(1)
    a = torch.randn(2, 3, 3, 5, requires_grad=True)
    b = torch.randn(2, 3, 3, 5, requires_grad=True)
    feature_discrepancy_loss(a, b).backward()
    # d/da comes only from 1 + mean cos(b.detach(), a)
    a2 = a.detach().clone().requires_grad_(True)
    (1 + F.cosine_similarity(b.detach().flatten(2), a2.flatten(2), dim=-1).mean()).backward()
    assert torch.allclose(a.grad, a2.grad, atol=1e-7)
    b2 = b.detach().clone().requires_grad_(True)
    (1 + F.cosine_similarity(a.detach().flatten(2), b2.flatten(2), dim=-1).mean()).backward()
    assert torch.allclose(b.grad, b2.grad, atol=1e-7)


# ------------------------------------------------------------------ consistency
def _weak():
    # (1, 3, 1, 4) logits: confidences ~0.9999, 1/3, ~0.9999, ~0.9999
    w = torch.zeros(1, 3, 1, 4)
    w[0, 1, 0, 0] = 10.0  # class 1, conf e^10 / (e^10 + 2)
    w[0, 0, 0, 2] = 10.0  # class 0
    w[0, 2, 0, 3] = 10.0  # class 2
    return w


def test_consistency_target_mask_by_hand():
    label = torch.tensor([[[255, 255, 1, 255]]])
    target, mask = consistency_targets(_weak(), label, conf_thr=0.9)
    # pixel 0: ignored in the label and confident -> target 1
    # pixel 1: ignored but confidence 1/3 -> out; pixel 2: labelled -> out
    # pixel 3: ignored and confident -> target 2
    assert mask.tolist() == [[[True, False, False, True]]]
    assert target.tolist() == [[[1, 255, 255, 2]]]
    # the threshold is strict: confidence exactly 1/3 with conf_thr 1/3 stays out
    _, mask = consistency_targets(_weak(), label, conf_thr=1 / 3)
    assert mask.tolist() == [[[True, False, False, True]]]


def test_consistency_loss_by_hand_with_the_flip_undone():
    label = torch.tensor([[[255, 255, 1, 255]]])
    # strong logits as seen AFTER un-flipping: pixel 0 uniform (CE ln 3 for class 1),
    # pixel 3 [0, 0, ln 2] (p(class 2) = 2 / 4, CE ln 2)
    unflipped = torch.zeros(1, 3, 1, 4)
    unflipped[0, 2, 0, 3] = math.log(2.0)
    unflipped[0, 0, 0, 1] = 7.0  # masked pixels do not count
    unflipped[0, 2, 0, 2] = -3.0
    strong = unflipped.flip(-1)  # the network saw the flipped view
    loss = strong_view_consistency_loss(strong, _weak(), label, torch.tensor([True]))
    assert loss.item() == pytest.approx((math.log(3.0) + math.log(2.0)) / 2, abs=1e-6)
    # without undoing the flip the value differs
    wrong = strong_view_consistency_loss(strong, _weak(), label, torch.tensor([False]))
    assert wrong.item() != pytest.approx(loss.item(), abs=1e-3)


def test_consistency_loss_as_the_official_code_on_a_smaller_strong_view():
    torch.manual_seed(0)
    weak = torch.randn(2, 21, 7, 9) * 4
    label = torch.randint(0, 3, (2, 7, 9))
    label[torch.rand(2, 7, 9) < 0.5] = 255
    strong = torch.randn(2, 21, 5, 6, requires_grad=True)  # x0.75-like, not a divisor
    loss = strong_view_consistency_loss(strong, weak, label, torch.tensor([True, True]))
    # official: flip, upsample (bilinear, align_corners False), argmax / confidence of the
    # weak seg, CE(reduction none).sum() / mask.sum()
    s = F.interpolate(strong.flip(3), size=(7, 9), mode='bilinear', align_corners=False)
    pseudo = weak.max(1)[1]
    conf = torch.softmax(weak, 1).max(1)[0]
    unc = (label == 255) & (conf > 0.9)
    pseudo[~unc] = 255
    ref = nn.CrossEntropyLoss(ignore_index=255, reduction='none')(s, pseudo).sum() / unc.sum()
    assert unc.any()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)


def test_consistency_loss_empty_mask_is_zero_with_a_graph():
    strong = torch.randn(1, 3, 1, 4, requires_grad=True)
    label = torch.ones(1, 1, 4, dtype=torch.long)  # no ignored pixel
    loss = strong_view_consistency_loss(strong, _weak(), label)
    assert loss.item() == 0.0
    loss.backward()
    assert strong.grad is not None


# ------------------------------------------------------------------ the terms
def _ctx():
    torch.manual_seed(0)
    feats1 = (torch.randn(2, 4, 3, 3, requires_grad=True), )
    feats2 = (torch.randn(2, 4, 3, 3, requires_grad=True), )
    seg1 = torch.randn(2, 21, 3, 3) * 5
    ctx = TrainContext(
        inputs=torch.zeros(2, 3, 12, 12),
        img=torch.zeros(2, 3, 12, 12, dtype=torch.uint8),
        img_labels=torch.ones(2, 20),
        data_samples=[None, None],
        branches={
            'b1': BranchOutput(feats=feats1, seg_logits=seg1),
            'b2': BranchOutput(feats=feats2, seg_logits=seg1.clone())
        },
        passes={'strong1': BranchOutput(feats=None, seg_logits=torch.randn(2, 21, 2, 2))},
        pseudo={'f2': torch.full((2, 12, 12), 255, dtype=torch.long)},
        view_flips={'strong': torch.tensor([True, False])})
    return ctx


def test_discrepancy_term():
    ctx = _ctx()
    term = DiscrepancyTerm(name='sim', branches=('b1', 'b2'), weight=0.1)
    out = term(ctx)
    ref = feature_discrepancy_loss(ctx.branches['b1'].feats[-1], ctx.branches['b2'].feats[-1])
    assert set(out) == {'loss_sim'}
    assert out['loss_sim'].item() == pytest.approx(0.1 * ref.item())
    with pytest.raises(ValueError):
        DiscrepancyTerm(branches=('b1', 'b1'))


def test_strong_consistency_term_reads_its_pass_flips_and_label():
    ctx = _ctx()
    term = StrongConsistencyTerm(
        name='reg1',
        branch='b1',
        label='f2',
        pass_name='strong1',
        view='strong',
        weight=0.05,
        schedule=dict(type='StepOn', start=8000),
        skip_when_off=True)
    ctx.iter = 8000
    # off at 8000 (n_iter > 8000); a skipped step logs a zero under the key a computed
    # step returns (loss_reg, not loss_reg1 after the term's name), so the log keeps one key
    assert {k: v.item() for k, v in term(ctx).items()} == {'loss_reg': 0.0}
    ctx.iter = 8001
    weak = F.interpolate(
        ctx.branches['b1'].seg_logits, size=(12, 12), mode='bilinear', align_corners=False)
    ref = strong_view_consistency_loss(ctx.passes['strong1'].seg_logits, weak, ctx.pseudo['f2'],
                                       ctx.view_flips['strong'])
    assert term(ctx)['loss_reg'].item() == pytest.approx(0.05 * ref.item())
