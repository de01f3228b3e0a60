"""CPAL's losses on hand-computed numbers, and the term's bank update order."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.heads.cpal_head import CPALHead
from mmwsss.models.losses.cpal_loss import cpal_self_loss, feature_distribution_alignment
from mmwsss.models.losses.terms.cpal import CPALTerm


def test_self_loss_by_hand():
    norm_cam = torch.tensor([0.5, 0.5, 0.0]).view(1, 1, 1, 3)
    pa = torch.tensor([0.2, 0.4, 0.1]).view(1, 1, 1, 3)
    m = 0.4 + 1e-5
    expected = (abs(0.5 - 0.2 / m) + abs(0.5 - 0.4 / m) + 0.1 / m) / 3
    assert abs(cpal_self_loss(norm_cam, pa).item() - expected) < 1e-6


def _fda_case():
    # 1 x 3 grid, D = 2; pixels (1, 0), (0, 1), (1, 1); K = 3 classes, class 2 absent
    feat = torch.tensor([[1., 0., 1.], [0., 1., 1.]]).view(1, 2, 1, 3)
    seeds = torch.zeros(1, 3, 1, 3)
    seeds[0, 0, 0, 0] = 1  # pixel 0 -> bg
    seeds[0, 1, 0, 1] = 1  # pixel 1 -> class 1; pixel 2 has no seed (ignored)
    protos = torch.tensor([[[1., 0.], [0.6, 0.8], [0., 1.]]])
    present = torch.tensor([[True, True, False]])
    return feat, seeds, protos, present


def test_fda_cosine_by_hand():
    feat, seeds, protos, present = _fda_case()
    # pixel 0 vs bg (1, 0): cos 1 -> 0; pixel 1 vs (0.6, 0.8): cos 0.8 -> 0.2; mean over 2
    out = feature_distribution_alignment(feat, seeds, protos, present, 'cosine')
    assert abs(out.item() - 0.1) < 1e-6


def test_fda_ce_by_hand_absent_class_excluded():
    feat, seeds, protos, present = _fda_case()
    tau = 0.5
    # pixel 0: cos to (bg, c1) = (1, 0.6); pixel 1: (0, 0.8); class 2 (cos 0 / 1) excluded
    l0 = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(0.6 / tau)))
    l1 = -math.log(math.exp(0.8 / tau) / (math.exp(0.0) + math.exp(0.8 / tau)))
    out = feature_distribution_alignment(feat, seeds, protos, present, 'ce', tau)
    assert abs(out.item() - (l0 + l1) / 2) < 1e-5
    # with class 2 present, pixel 1's denominator gains exp(1 / tau)
    present2 = torch.tensor([[True, True, True]])
    l1b = -math.log(math.exp(0.8 / tau) / (math.exp(0.0) + math.exp(0.8 / tau) + math.exp(1 / tau)))
    l0b = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(0.6 / tau) + math.exp(0.0)))
    out2 = feature_distribution_alignment(feat, seeds, protos, present2, 'ce', tau)
    assert abs(out2.item() - (l0b + l1b) / 2) < 1e-5


def test_fda_no_seeds_and_bad_distance():
    feat, seeds, protos, present = _fda_case()
    feat.requires_grad_()
    out = feature_distribution_alignment(feat, torch.zeros_like(seeds), protos, present)
    assert out.item() == 0
    out.backward()  # still part of the graph
    with pytest.raises(ValueError, match='distance'):
        feature_distribution_alignment(feat, seeds, protos, present, 'kl')


def test_fda_gradient_only_to_features_when_detached():
    feat, seeds, protos, present = _fda_case()
    feat.requires_grad_()
    feature_distribution_alignment(feat, seeds, protos, present).backward()
    assert feat.grad is not None and feat.grad[..., 2].abs().sum() == 0  # unseeded pixel


class _Ctx(SimpleNamespace):

    def require(self, field, name):
        return getattr(self, field)[name]


def test_term_uses_the_bank_before_writing_it():
    init_default_scope('mmwsss')
    head = CPALHead(
        in_channels=6,
        num_classes=3,
        side_in_channels=(2, 4, 6),
        side_channels=(3, 3, 4),
        ref_side=1,
        bank_slots=4)
    head.init_weights()
    head.train()
    g = torch.Generator().manual_seed(0)
    feats = (torch.randn(2, 2, 10, 9, generator=g), torch.randn(2, 4, 5, 5, generator=g),
             torch.randn(2, 6, 5, 5, generator=g))
    _, cam = head(feats)
    ctx = _Ctx(
        branches=dict(net=SimpleNamespace(feats=feats)),
        cams=dict(cpal=cam),
        extras=dict(cam_heads=dict(cpal=head)),
        img_labels=torch.tensor([[1., 0., 1.], [0., 1., 0.]]),
        valid_mask=None,
        data_samples=None)
    term = CPALTerm(fda_weight=0.5)
    out1 = term.compute(ctx)
    assert set(out1) == {'loss_self', 'loss_fda', 'bank_fill'}
    # the first batch saw an empty bank: L_self is SIPE's GSC exactly
    from mmwsss.models.losses.gsc_loss import gsc_loss
    from mmwsss.models.losses.terms.sipe import sipe_valid_mask
    hie = head.hie_fea(feats)
    valid = sipe_valid_mask(ctx.img_labels, (5, 5))
    norm_cam, _, is_cam = head.is_cam(cam, hie, head.cls_feature(feats), valid)
    assert torch.allclose(out1['loss_self'], gsc_loss(norm_cam, is_cam), atol=1e-6)
    # then it wrote the present classes with seeds: bg of both images, fg only where labelled
    written = head.bank.count.sum(1)
    maps = head.cpal_maps(norm_cam, hie, head.cls_feature(feats), valid)
    assert torch.equal(written, maps['present'].sum(0))
    assert written[0] == 2 and torch.all(written[1:] <= ctx.img_labels.sum(0))
    # frozen bank: nothing more is written
    before = head.bank.count.clone()
    CPALTerm(update_bank=False).compute(ctx)
    assert torch.equal(head.bank.count, before)
    with pytest.raises(ValueError, match='fda_distance'):
        CPALTerm(fda_distance='l1')
