"""S&M Discrepancy / Intersection losses: numbers worked out by hand, and the terms."""
import math

import pytest
import torch

from mmwsss.models.losses.discrepancy_intersection import (discrepancy_loss, intersection_logits,
                                                           intersection_loss)
from mmwsss.models.losses.terms import SMDiscrepancyTerm, SMIntersectionTerm
from mmwsss.structures import TrainContext


def _maps():
    # (B=1, C=2, 1, 3); class 0 present, class 1 absent (identical maps there: cos 1, ignored)
    cam1 = torch.tensor([[[[1., 2., -1.]], [[5., 5., 5.]]]])
    cam2 = torch.tensor([[[[2., 0., 3.]], [[3., 4., 6.]]]])
    return cam1, cam2, torch.tensor([[1., 0.]])


def test_discrepancy_two_maps_by_hand():
    cam1, cam2, y = _maps()
    # relu: [1, 2, 0] . [2, 0, 3] = 2; norms sqrt(5), sqrt(13)
    assert discrepancy_loss([cam1, cam2], y).item() == pytest.approx(2 / math.sqrt(65), abs=1e-6)


def test_discrepancy_three_maps_all_pairs():
    cam1, cam2, y = _maps()
    cam3 = torch.zeros_like(cam1)
    cam3[0, 0, 0, 2] = 1.  # relu [0, 0, 1]
    # pairs: (1,2) 2/sqrt(65); (1,3) 0; (2,3) 3/sqrt(13)
    want = (2 / math.sqrt(65) + 0 + 3 / math.sqrt(13)) / 3
    assert discrepancy_loss([cam1, cam2, cam3], y).item() == pytest.approx(want, abs=1e-6)


def test_discrepancy_gradient_splits_and_edge_cases():
    cam1, cam2, y = _maps()
    cam1.requires_grad_(True)
    discrepancy_loss([cam1, cam2], y).backward()
    # pixel 2 (only cam2 active): raising cam1 there would increase the overlap -> grad <= 0
    # is not required, but pixel 0/1 gradients are non-zero and the absent class gets none
    assert cam1.grad[0, 1].abs().sum() == 0
    assert cam1.grad[0, 0, 0, :2].abs().sum() > 0
    # an all-negative map: similarity 0, no NaN; no present class: 0
    neg = -torch.ones_like(cam2)
    assert discrepancy_loss([cam1.detach(), neg], y).item() == 0.0
    assert discrepancy_loss([cam1.detach(), cam2], torch.zeros(1, 2)).item() == 0.0
    with pytest.raises(ValueError):
        discrepancy_loss([cam1], y)


def test_intersection_by_hand():
    cam1, cam2, y = _maps()
    # class 0: min [1, 0, -1] -> mean 0; class 1: min [3, 4, 5] -> mean 4
    assert intersection_logits([cam1, cam2]).tolist() == [[0.0, 4.0]]
    want = (math.log(2) + math.log(1 + math.exp(4))) / 2  # y=1: -log s(0); y=0: -log s(-4)
    assert intersection_loss([cam1, cam2], y).item() == pytest.approx(want, abs=1e-6)


def test_terms_read_named_heads():
    cam1, cam2, y = _maps()
    ctx = TrainContext(
        inputs=torch.zeros(1, 3, 4, 4),
        img=torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
        img_labels=y,
        data_samples=[],
        cams=dict(a=cam1, b=cam2))
    dis = SMDiscrepancyTerm(cams=('a', 'b'), weight=0.5)(ctx)
    assert dis['loss_dis'].item() == pytest.approx(0.5 * 2 / math.sqrt(65), abs=1e-6)
    inter = SMIntersectionTerm(cams=('a', 'b'))(ctx)
    assert set(inter) == {'loss_inter'}
    with pytest.raises(KeyError):
        SMIntersectionTerm(cams=('a', 'missing'))(ctx)
    with pytest.raises(ValueError):
        SMDiscrepancyTerm(cams=('a', ))
