"""ConfidenceWeightedLoss: pixel CE weighted (or thresholded) by a 0-255 confidence."""
import math

import pytest
import torch
from mmseg.models.losses import CrossEntropyLoss

from mmwsss.models.losses import (ConfidenceWeightedLoss, confidence_weighted_mean,
                                  confidence_weights)

# 3 classes on a 2x2 label; logits = log p, so CE = -log p[label]:
#   (0, 0) p = (1/2, 1/4, 1/4), label 0 -> ln 2
#   (0, 1) p = (1/4, 1/4, 1/2), label 2 -> ln 2
#   (1, 0) p = (1/8, 3/8, 1/2), label 1 -> ln (8/3)
#   (1, 1) p = (1/3, 1/3, 1/3), label 255 (ignore)
P = torch.tensor([[[0.5, 0.25], [0.125, 1 / 3]], [[0.25, 0.25], [0.375, 1 / 3]],
                  [[0.25, 0.5], [0.5, 1 / 3]]])
LOGITS = P.log()[None]  # (1, 3, 2, 2)
LABEL = torch.tensor([[[0, 2], [1, 255]]])
# confidences 255, 51, 102 (and 204 on the ignore pixel): weights 1, 0.2, 0.4, (0)
CONF = torch.tensor([[[255, 51], [102, 204]]], dtype=torch.uint8)
L00, L01, L10 = math.log(2), math.log(2), math.log(8 / 3)


def _loss(**kw):
    return ConfidenceWeightedLoss(**kw)


def test_weights_by_hand():
    w = confidence_weights(CONF, LABEL)
    assert torch.allclose(w, torch.tensor([[[1.0, 0.2], [0.4, 0.0]]]))
    w = confidence_weights(CONF, LABEL, power=2.0)
    assert torch.allclose(w, torch.tensor([[[1.0, 0.04], [0.16, 0.0]]]))
    w = confidence_weights(CONF, LABEL, mode='threshold', thr=0.3)
    assert w.tolist() == [[[1.0, 0.0], [1.0, 0.0]]]


def test_weight_mode_normalisations_by_hand():
    num = 1.0 * L00 + 0.2 * L01 + 0.4 * L10
    x = LOGITS.clone()
    # 'weight': sum(w l) / sum(w) = num / 1.6
    assert float(_loss()(x, LABEL, confidence=CONF)) == pytest.approx(num / 1.6, abs=1e-6)
    # 'valid': num / 3 (three non-ignore pixels); 'all': num / 4 (ignore counted)
    assert float(_loss(normalize='valid')(x, LABEL, confidence=CONF)) == pytest.approx(
        num / 3, abs=1e-6)
    assert float(_loss(normalize='all')(x, LABEL, confidence=CONF)) == pytest.approx(
        num / 4, abs=1e-6)
    # power 2: (l00 + 0.04 l01 + 0.16 l10) / 1.2
    assert float(_loss(power=2.0)(x, LABEL, confidence=CONF)) == pytest.approx(
        (L00 + 0.04 * L01 + 0.16 * L10) / 1.2, abs=1e-6)


def test_threshold_mode_by_hand():
    # conf / 255 = 1, 0.2, 0.4: thr 0.3 drops (0, 1): mean of ln 2 and ln (8/3)
    loss = _loss(mode='threshold', thr=0.3)
    assert float(loss(LOGITS, LABEL, confidence=CONF)) == pytest.approx((L00 + L10) / 2, abs=1e-6)
    # threshold mode: 'weight' and 'valid' both average over the kept pixels
    assert float(
        _loss(mode='threshold', thr=0.3, normalize='valid')(LOGITS, LABEL,
                                                            confidence=CONF)) == pytest.approx(
                                                                (L00 + L10) / 2, abs=1e-6)
    # the threshold is inclusive: 0.4 keeps (1, 0)
    assert float(_loss(mode='threshold', thr=0.4)(LOGITS, LABEL, confidence=CONF)) == \
        pytest.approx((L00 + L10) / 2, abs=1e-6)
    # nothing kept: 0, with a graph
    x = LOGITS.clone().requires_grad_()
    out = _loss(mode='threshold', thr=1.0)(x, LABEL, confidence=torch.zeros_like(CONF))
    out.backward()
    assert float(out) == 0.0 and float(x.grad.abs().sum()) == 0.0


def test_gradients_are_zero_on_ignored_pixels():
    x = LOGITS.clone().requires_grad_()
    _loss(mode='threshold', thr=0.3)(x, LABEL, confidence=CONF).backward()
    g = x.grad[0].abs().sum(0)
    assert g[1, 1] == 0 and g[0, 1] == 0  # ignore label; below the threshold
    assert g[0, 0] > 0 and g[1, 0] > 0
    # weight mode: the ignore pixel 0; (0, 1) scaled by 0.2 / 1.6: d CE / d logits = p - onehot
    x = LOGITS.clone().requires_grad_()
    _loss()(x, LABEL, confidence=CONF).backward()
    assert x.grad[0, :, 1, 1].abs().sum() == 0
    expected = (P[:, 0, 1] - torch.tensor([0., 0., 1.])) * 0.2 / 1.6
    assert torch.allclose(x.grad[0, :, 0, 1], expected, atol=1e-6)
    # a confidence-0 pixel has no gradient either
    x = LOGITS.clone().requires_grad_()
    _loss()(x, LABEL, confidence=torch.tensor([[[255, 0], [102, 204]]])).backward()
    assert x.grad[0, :, 0, 1].abs().sum() == 0


def test_full_confidence_is_mmseg_cross_entropy():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 3)
    y = torch.randint(0, 4, (2, 5, 3))
    y[0, 1, 1] = y[1, 4, 2] = 255
    full = torch.full_like(y, 255)
    ref_all = CrossEntropyLoss(avg_non_ignore=False)(x, y, ignore_index=255)
    ref_valid = CrossEntropyLoss(avg_non_ignore=True)(x, y, ignore_index=255)
    assert torch.allclose(_loss(normalize='all')(x, y, confidence=full), ref_all)
    assert torch.allclose(_loss(normalize='valid')(x, y, confidence=full), ref_valid)
    assert torch.allclose(_loss(normalize='weight')(x, y, confidence=full), ref_valid)
    # a uniform confidence cancels in 'weight'
    half = torch.full_like(y, 100)
    assert torch.allclose(_loss()(x, y, confidence=half), ref_valid, atol=1e-6)


def test_head_weight_context_resize_and_name():
    loss = _loss(loss_name='loss_ce')
    assert loss.loss_name == 'loss_ce'
    with pytest.raises(RuntimeError, match='ConfidenceEncoderDecoder'):
        loss(LOGITS, LABEL)
    with loss.use_confidence(CONF):
        inside = loss(LOGITS, LABEL)
    assert loss._confidence is None
    assert float(inside) == pytest.approx((L00 + 0.2 * L01 + 0.4 * L10) / 1.6, abs=1e-6)
    # a sampler's weight multiplies in: w = (1, 0.2 * 0.5, 0.4 * 2) -> / 1.9
    head_w = torch.tensor([[[1.0, 0.5], [2.0, 1.0]]])
    assert float(loss(LOGITS, LABEL, weight=head_w, confidence=CONF)) == pytest.approx(
        (L00 + 0.1 * L01 + 0.8 * L10) / 1.9, abs=1e-6)
    # a (1, 1, 1) map is resized (nearest) to the label
    assert float(loss(LOGITS, LABEL, confidence=torch.full((1, 1, 1), 255))) == pytest.approx(
        (L00 + L01 + L10) / 3, abs=1e-6)
    with pytest.raises(ValueError, match='mode'):
        _loss(mode='soft')
    with pytest.raises(ValueError, match='thr'):
        _loss(thr=128)


def test_reduce_function_alone():
    pixel = torch.tensor([[1.0, 2.0], [3.0, float('inf')]])
    w = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    valid = torch.tensor([[True, True], [True, False]])
    # the inf loss has weight 0 and does not poison the sum: (0.5 + 1 + 3) / 2
    assert float(confidence_weighted_mean(pixel, w, valid)) == pytest.approx(2.25)
    assert float(confidence_weighted_mean(pixel, w, valid, 'valid')) == pytest.approx(1.5)
    assert float(confidence_weighted_mean(pixel, w, valid, 'all')) == pytest.approx(1.125)
    assert float(confidence_weighted_mean(pixel, w, valid, avg_factor=9)) == pytest.approx(0.5)
