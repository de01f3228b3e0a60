"""BECO's confidence mask (gen_mask.py): margin = top-1 - top-2, top half per class."""
import math

import pytest
import torch

from mmwsss.models.refiners import MarginConfidenceMask, margin_confidence_mask, score_margin


def test_margin_top1_minus_top2_over_present_classes():
    # (1, 1 + 2, 1, 3): bg 0.25 + two classes; class 2 absent in the last case
    s = torch.tensor([[0.25, 0.25, 0.25], [0.9, 0.3, 0.1], [0.1, 0.28, 0.95]])[None, :, None]
    m = score_margin(s)[0, 0]
    assert torch.allclose(m, torch.tensor([0.65, 0.02, 0.70]), atol=1e-6)
    # class 2 absent: its 0.95 is not a score, pixel 3 is 0.25 (bg) - 0.1
    m = score_margin(s, torch.tensor([[1., 0.]]))[0, 0]
    assert torch.allclose(m, torch.tensor([0.65, 0.05, 0.15]), atol=1e-6)


def test_tie_rule_of_the_official_code():
    s = torch.tensor([0.25, 0.5, 0.5, 0.1]).view(1, 4, 1, 1)
    assert float(score_margin(s)) == 0.0
    # a[a == max] = 0 then max: the second score is 0.25 (bg), margin 0.25
    assert math.isclose(float(score_margin(s, zero_ties=True)), 0.25, abs_tol=1e-6)


def test_top_half_per_class_by_margin():
    label = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 0, 255, 2]])
    margin = torch.tensor([[0.1, 0.5, 0.3, 0.9, 0.2], [0.4, 0.8, 0.6, 1.0, 0.7]])
    mask = margin_confidence_mask(margin, label, 0.5)
    # class 1: 5 pixels -> floor(5 / 2) = 2: margins 0.9, 0.5; class 0: 3 -> 1: 0.8;
    # class 2: 1 pixel -> 0; the ignore pixel never
    assert mask.tolist() == [[0, 1, 0, 1, 0], [0, 1, 0, 0, 0]]
    assert mask.dtype == torch.uint8


def test_keep_ratio_uses_the_official_count():
    label = torch.zeros(1, 10, dtype=torch.long)
    margin = torch.arange(10.).view(1, 10)
    # the official count int(n // (1 / thd)) in floats: 1 / 0.3 = 3.3333333333333335 and
    # 10 // 3.3333333333333335 = 2.0 (not round(10 * 0.3) = 3); 9 // 2.0 = 4 for thd 0.5
    assert margin_confidence_mask(margin, label, 0.3).tolist() == [[0] * 8 + [1] * 2]
    assert int(margin_confidence_mask(margin[:, :9], label[:, :9], 0.5).sum()) == 4
    # ties: stable raster order
    assert margin_confidence_mask(torch.zeros(1, 4), torch.zeros(1, 4, dtype=torch.long),
                                  0.5).tolist() == [[1, 1, 0, 0]]


def test_refiner_on_cam_scores_with_a_bg_pad():
    cams = torch.tensor([[[0.9, 0.5, 0.1, 0.45]], [[0.0, 0.3, 0.0, 0.0]]])[None]  # (1, 2, 1, 4)
    state = dict(cams=cams, img_labels=torch.tensor([[1., 0.]]))
    out = MarginConfidenceMask(bg_thr=0.4)(state)
    # class 2 absent -> zeroed; scores [bg 0.4, c1]; label = [1, 1, 0, 1]
    assert out['label'].tolist() == [[[1, 1, 0, 1]]]
    # margins 0.5, 0.1, 0.3, 0.05; class 1 (3 px) keeps 1: pixel 0; class 0 (1 px): none
    assert out['conf_mask'].tolist() == [[[1, 0, 0, 0]]]
    assert torch.equal(out['scores'][:, 0], torch.full((1, 1, 4), 0.4))


def test_refiner_needs_scores_or_bg_thr():
    with pytest.raises(KeyError, match='scores'):
        MarginConfidenceMask()(dict(cams=torch.rand(1, 2, 3, 3), img_labels=torch.ones(1, 2)))
    with pytest.raises(ValueError, match='keep_ratio'):
        MarginConfidenceMask(keep_ratio=0)
