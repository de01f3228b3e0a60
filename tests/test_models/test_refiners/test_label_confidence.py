"""LabelConfidence: per-pixel uint8 confidence of the pseudo label (margin / entropy)."""
import math

import pytest
import torch

from mmwsss.models.refiners import (LabelConfidence, RefineChain, confidence_to_uint8,
                                    entropy_confidence, margin_confidence)
from mmwsss.models.utils.cam import cam_to_label

# A 3-class (bg + 2 fg) 2x2 toy, dyadic values (exact in float32), not symmetric:
#   pixel      bg     c1      c2
#   (0, 0)   1/4    3/4    1/16
#   (0, 1)   1/4    1/2    3/8
#   (1, 0)   1/4    1/8    0
#   (1, 1)   1/4    1/2    1/2     (a tie for the top)
BG = torch.full((2, 2), 0.25)
C1 = torch.tensor([[0.75, 0.5], [0.125, 0.5]])
C2 = torch.tensor([[0.0625, 0.375], [0.0, 0.5]])
SCORES = torch.stack([BG, C1, C2])[None]  # (1, 3, 2, 2)
BOTH = torch.tensor([[1., 1.]])


def test_margin_by_hand():
    # top-1 - top-2: 3/4 - 1/4 = 1/2; 1/2 - 3/8 = 1/8; 1/4 - 1/8 = 1/8; tie 1/2 - 1/2 = 0
    conf = margin_confidence(SCORES, BOTH)
    assert conf.tolist() == [[[0.5, 0.125], [0.125, 0.0]]]
    # 255 * c rounded half up: 127.5 -> 128, 31.875 -> 32 (truncation: 127, 31)
    assert confidence_to_uint8(conf).tolist() == [[[128, 32], [32, 0]]]
    # BECO's tie rule: the second score of the tie pixel is the bg 1/4 -> 1/4 -> 63.75 -> 64
    assert confidence_to_uint8(margin_confidence(SCORES, BOTH, zero_ties=True))[0, 1,
                                                                                1].item() == 64


def test_margin_leaves_absent_classes_out():
    # class 2 absent: candidates bg, c1 -> 1/2, 1/4, 1/8, 1/4
    conf = margin_confidence(SCORES, torch.tensor([[1., 0.]]))
    assert conf.tolist() == [[[0.5, 0.25], [0.125, 0.25]]]
    # an absent class with the highest score of all changes nothing
    scores = torch.cat([SCORES, torch.full((1, 1, 2, 2), 0.9375)], 1)
    assert torch.equal(
        margin_confidence(scores, torch.tensor([[1., 1., 0.]])), margin_confidence(SCORES, BOTH))


def _one_minus_normalised_entropy(p):
    return 1.0 - sum(-x * math.log(x) for x in p if x > 0) / math.log(len(p))


def test_entropy_by_hand():
    # p = scores / their sum over the 3 candidates:
    #   (0,0) (1/4, 3/4, 1/16) / (17/16) = (4, 12, 1) / 17
    #   (0,1) (1/4, 1/2, 3/8) / (9/8)    = (2, 4, 3) / 9
    #   (1,0) (1/4, 1/8, 0) / (3/8)      = (2/3, 1/3, 0)
    #   (1,1) (1/4, 1/2, 1/2) / (5/4)    = (1, 2, 2) / 5
    # conf = 1 - H / log 3: 0.314613, 0.034366, 0.420620, 0.039770
    expected = [[
        _one_minus_normalised_entropy([4 / 17, 12 / 17, 1 / 17]),
        _one_minus_normalised_entropy([2 / 9, 4 / 9, 3 / 9])
    ],
                [
                    _one_minus_normalised_entropy([2 / 3, 1 / 3, 0.0]),
                    _one_minus_normalised_entropy([1 / 5, 2 / 5, 2 / 5])
                ]]
    assert expected[0][0] == pytest.approx(0.3146129, abs=1e-6)
    conf = entropy_confidence(SCORES, BOTH)
    assert torch.allclose(conf, torch.tensor([expected]), atol=1e-6)
    # 80.226 -> 80, 8.763 -> 9 (truncation: 8), 107.258 -> 107, 10.141 -> 10
    assert confidence_to_uint8(conf).tolist() == [[[80, 9], [107, 10]]]


def test_entropy_normalises_by_log_of_the_candidate_count():
    # class 2 absent: K = 2, pixel (0,0): p = (1/4, 3/4), 1 - H / log 2 = 0.188722 -> 48
    conf = entropy_confidence(SCORES, torch.tensor([[1., 0.]]))
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert float(conf[0, 0, 0]) == pytest.approx(1 - h / math.log(2), abs=1e-6)
    assert int(confidence_to_uint8(conf)[0, 0, 0]) == 48
    # an absent class with a large score changes nothing
    scores = torch.cat([SCORES, torch.full((1, 1, 2, 2), 0.9375)], 1)
    assert torch.allclose(
        entropy_confidence(scores, torch.tensor([[1., 1., 0.]])),
        entropy_confidence(SCORES, BOTH),
        atol=1e-7)


def test_entropy_extremes_and_softmax():
    one_hot = torch.tensor([0., 1., 0.]).view(1, 3, 1, 1)
    uniform = torch.full((1, 3, 1, 1), 0.2)
    zeros = torch.zeros(1, 3, 1, 1)
    assert float(entropy_confidence(one_hot)) == pytest.approx(1.0)
    assert float(entropy_confidence(uniform)) == pytest.approx(0.0, abs=1e-6)
    assert float(entropy_confidence(zeros)) == pytest.approx(0.0, abs=1e-6)  # no evidence
    # softmax of logits (0, log 2, log 5) = (1, 2, 5) / 8
    logits = torch.tensor([0., math.log(2.), math.log(5.)]).view(1, 3, 1, 1)
    assert float(entropy_confidence(logits, normalize='softmax')) == pytest.approx(
        _one_minus_normalised_entropy([1 / 8, 2 / 8, 5 / 8]), abs=1e-6)


def test_uint8_rounds_half_up_and_clips():
    conf = torch.tensor([0.0, 0.001, 0.003, 0.125, 0.25, 0.5, 1.0, 1.2, -0.1])
    # 255 c = 0, 0.255, 0.765, 31.875, 63.75, 127.5, 255, 306, -25.5
    assert confidence_to_uint8(conf).tolist() == [0, 0, 1, 32, 64, 128, 255, 255, 0]
    assert confidence_to_uint8(conf).dtype == torch.uint8


def test_refiner_on_cams_matches_the_plain_label():
    cams = torch.stack([C1, C2])[None]
    state = dict(cams=cams, img_labels=BOTH)
    out = LabelConfidence(mode='margin', bg_thr=0.25)(state)
    # the label is the one cam_to_label(cams, 0.25) writes without the refiner
    assert torch.equal(out['label'], cam_to_label(cams, BOTH, bg_thr=0.25))
    assert out['label'].tolist() == [[[1, 1], [0, 1]]]
    assert out['confidence'].tolist() == [[[128, 32], [32, 0]]]
    assert out['confidence'].dtype == torch.uint8
    assert 'scores' not in out  # the chain's own fields are left alone
    out = LabelConfidence(mode='entropy', bg_thr=0.25)(state)
    assert out['confidence'].tolist() == [[[80, 9], [107, 10]]]


def test_ignore_and_padding_get_zero():
    state = dict(
        cams=torch.stack([C1, C2])[None],
        img_labels=BOTH,
        scores=SCORES,
        label=torch.tensor([[[1, 1], [255, 1]]]),
        valid_mask=torch.tensor([[[True, False], [True, True]]]))
    out = LabelConfidence(mode='margin')(state)
    assert out['label'].tolist() == [[[1, 255], [255, 1]]]
    assert out['confidence'].tolist() == [[[128, 0], [0, 0]]]


def test_in_a_chain_and_errors():
    chain = RefineChain([dict(type='LabelConfidence', mode='entropy', bg_thr=0.25)], bg_thr=0.25)
    state = chain(dict(cams=torch.stack([C1, C2])[None], img_labels=BOTH))
    assert chain.final_label(state).tolist() == [[[1, 1], [0, 1]]]
    assert state['confidence'].shape == (1, 2, 2)
    with pytest.raises(KeyError, match='bg_thr'):
        LabelConfidence()(dict(cams=torch.stack([C1, C2])[None], img_labels=BOTH))
    with pytest.raises(ValueError, match='mode'):
        LabelConfidence(mode='variance')
    with pytest.raises(ValueError, match='normalize'):
        entropy_confidence(SCORES, BOTH, normalize='max')
