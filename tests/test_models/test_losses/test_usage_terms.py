"""USAGE generation / regularisation losses: numbers worked out by hand, and the terms."""
import math

import pytest
import torch

from mmwsss.models.losses.seed_generation import (power_mean_log_prob, seed_maps,
                                                  usage_generation_loss, usage_regularization_loss)
from mmwsss.models.losses.terms import USAGEConsistencyTerm, USAGEGenerationTerm
from mmwsss.models.losses.terms.usage import USAGE_TEMPERATURES
from mmwsss.structures import BranchOutput, TrainContext

# two pixels with sigmoid probabilities 0.5 and 0.75
CAM = torch.tensor([[[[0.0, math.log(3.0)]]]])


def test_power_mean_by_hand():
    # tau 2 (exponent 1/2): ((sqrt .5 + sqrt .75) / 2) ** 2; tau 1: the mean; tau .5: RMS
    p2 = ((0.5**0.5 + 0.75**0.5) / 2)**2
    assert power_mean_log_prob(CAM, 2.0).exp().item() == pytest.approx(p2, abs=1e-6)
    assert power_mean_log_prob(CAM, 1.0).exp().item() == pytest.approx(0.625, abs=1e-6)
    rms = math.sqrt((0.25 + 0.5625) / 2)
    assert power_mean_log_prob(CAM, 0.5).exp().item() == pytest.approx(rms, abs=1e-6)
    # tau -> 0 tends to the max probability, a larger tau lowers the pooled value
    assert power_mean_log_prob(CAM, 0.01).exp().item() == pytest.approx(0.75, abs=1e-2)
    assert power_mean_log_prob(CAM, 4.0) < power_mean_log_prob(CAM, 2.0)
    with pytest.raises(ValueError):
        power_mean_log_prob(CAM, 0.0)


def test_generation_loss_by_hand():
    p2 = ((0.5**0.5 + 0.75**0.5) / 2)**2
    pos = usage_generation_loss(CAM, torch.ones(1, 1), 2.0)
    assert pos.item() == pytest.approx(-math.log(p2), abs=1e-6)
    rms = math.sqrt((0.25 + 0.5625) / 2)
    neg = usage_generation_loss(CAM, torch.zeros(1, 1), 0.5)
    assert neg.item() == pytest.approx(-math.log(1 - rms), abs=1e-6)
    # two classes: the mean of the two
    both = usage_generation_loss(torch.cat([CAM, CAM], 1), torch.tensor([[1., 0.]]), 2.0)
    assert both.item() == pytest.approx((-math.log(p2) - math.log(1 - p2)) / 2, abs=1e-6)


def test_generation_concave_rewards_spread():
    # same total evidence: one pixel at +4 and one at -4 vs both at 0; with tau 2 the spread
    # map loses (its weak pixel dominates), with tau 0.5 the peaked map wins
    peaked = torch.tensor([[[[4.0, -4.0]]]])
    flat = torch.zeros(1, 1, 1, 2)
    y = torch.ones(1, 1)
    assert usage_generation_loss(flat, y, 2.0) < usage_generation_loss(peaked, y, 2.0)
    assert usage_generation_loss(peaked, y, 0.5) < usage_generation_loss(flat, y, 0.5)


def test_seed_maps_and_regularization_by_hand():
    y = torch.tensor([[1., 0.]])
    main = torch.tensor([[[[1., 3.]], [[7., 9.]]]])  # class 1 absent: zeroed
    s = seed_maps(main, y)
    assert s[0, 0, 0].tolist() == pytest.approx([1 / 3, 1.0], abs=1e-4)
    assert s[0, 1].abs().sum() == 0
    view = torch.tensor([[[[2., 2.]], [[0., 1.]]]])
    # |1/3 - 1| + |1 - 1| over 1 present map x 2 pixels
    assert usage_regularization_loss(main, view, y).item() == pytest.approx(1 / 3, abs=1e-4)
    # a flipped view is flipped back before comparing
    fl = torch.tensor([[[[3., 1.]], [[0., 0.]]]])
    assert usage_regularization_loss(main, fl, y, torch.tensor([True])).item() == \
        pytest.approx(0.0, abs=1e-6)
    assert usage_regularization_loss(main, fl, y, torch.tensor([False])).item() == \
        pytest.approx(2 / 3, abs=1e-4)
    # a smaller view is resized to the main grid (1x1 -> 1x2: [1, 1])
    small = torch.tensor([[[[5.]], [[0.]]]])
    assert usage_regularization_loss(main, small, y).item() == pytest.approx(1 / 3, abs=1e-4)


def _ctx(main, view, y, flips=None):
    return TrainContext(
        inputs=torch.zeros(1, 3, 4, 4),
        img=torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
        img_labels=y,
        data_samples=[],
        cams=dict(main=main),
        passes=dict(v=BranchOutput(feats=None, cams=dict(main=view))),
        view_flips={} if flips is None else dict(x03=flips))


def test_terms():
    assert USAGE_TEMPERATURES['cnn'] > 1 > USAGE_TEMPERATURES['transformer']
    y = torch.ones(1, 1)
    ctx = _ctx(CAM, CAM.flip(-1), y, torch.tensor([True]))
    gen = USAGEGenerationTerm(cam='main', network='cnn')
    assert gen.temperature == 2.0
    assert gen(ctx)['loss_gen'].item() == pytest.approx(
        -math.log(((0.5**0.5 + 0.75**0.5) / 2)**2), abs=1e-6)
    assert USAGEGenerationTerm(network='transformer').temperature == 0.5
    assert USAGEGenerationTerm(network='transformer', temperature=3.0).temperature == 3.0
    with pytest.raises(ValueError):
        USAGEGenerationTerm(network='rnn')
    reg = USAGEConsistencyTerm(cam='main', view_pass='v', view='x03', weight=2.0)
    assert reg(ctx)['loss_reg'].item() == pytest.approx(0.0, abs=1e-6)  # flip undone
    ctx2 = _ctx(CAM, CAM.flip(-1), y)  # no flips recorded: compared as is
    s = seed_maps(CAM, y)[0, 0, 0]
    want = 2.0 * (s - s.flip(-1)).abs().mean().item()
    assert reg(ctx2)['loss_reg'].item() == pytest.approx(want, abs=1e-6)
    with pytest.raises(KeyError):
        USAGEConsistencyTerm(cam='other', view_pass='v')(ctx)
