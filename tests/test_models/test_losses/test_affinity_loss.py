"""AffinityNet / IRN pair losses and the affinity-label construction feeding them."""
import math

import pytest
import torch

from mmwsss.models.losses.affinity_loss import (AffinityDisplacementLoss, AffinityLoss,
                                                psa_affinity_loss)
from mmwsss.models.refiners.random_walk import pair_offsets
from mmwsss.models.utils.affinity_labels import (combine_ir_labels, combine_psa_labels, crop_pairs,
                                                 nearest_downsample_label, pair_labels,
                                                 psa_downsample_label)

EPS = 1e-5


def _toy_pairs():
    """Three pairs: a bg-positive (a = .9), a fg-positive (a = .6), a negative (a = .2)."""
    aff = torch.tensor([0.9, 0.6, 0.2]).view(1, 3, 1)
    bg = torch.tensor([1., 0., 0.]).view(1, 3, 1)
    fg = torch.tensor([0., 1., 0.]).view(1, 3, 1)
    neg = torch.tensor([0., 0., 1.]).view(1, 3, 1)
    return aff, bg, fg, neg


def test_psa_loss_two_pairs_by_hand():
    # one bg pair (a = .9) and one negative pair (a = .2), no fg pair
    aff = torch.tensor([[[0.9], [0.2]]])
    bg = torch.tensor([[[1.], [0.]]])
    fg = torch.zeros_like(bg)
    neg = torch.tensor([[[0.], [1.]]])
    expected = (0.25 * -math.log(0.9 + EPS) / (1 + EPS) + 0.25 * 0.0 +
                0.5 * -math.log(1 + EPS - 0.2) / (1 + EPS))
    # -log(.90001) = .10534, -log(.80001) = .22313
    assert expected == pytest.approx(0.25 * 0.10534 + 0.5 * 0.22313, abs=1e-5)
    loss = AffinityLoss()(aff, bg, fg, neg)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert psa_affinity_loss(aff, bg, fg, neg).item() == pytest.approx(expected, rel=1e-6)
    assert AffinityLoss().loss_name == 'loss_aff'


def test_psa_loss_gradients_pull_the_right_way():
    aff, bg, fg, neg = _toy_pairs()
    aff = aff.clone().requires_grad_(True)
    AffinityLoss()(aff, bg, fg, neg).backward()
    g = aff.grad.flatten()
    assert g[0] < 0 and g[1] < 0  # positives: raise the affinity
    assert g[2] > 0  # negative: lower it
    # fg term: 1/4 * d(-log(a + eps))/da = -1/4 / (0.6 + eps)
    assert g[1].item() == pytest.approx(-0.25 / (0.6 + EPS) / (1 + EPS), rel=1e-5)


def test_irn_loss_by_hand():
    aff, bg, fg, neg = _toy_pairs()
    # dp(i) - dp(j) per pair, targets (dy, dx) = (1, 0) for all three
    pair_disp = torch.tensor([[0.2, 1.5, 9.0], [0.4, -1.0, 9.0]]).view(1, 2, 3, 1)
    target = torch.tensor([1., 0.]).view(1, 2, 1, 1)
    out = AffinityDisplacementLoss()(aff, bg, fg, neg, pair_disp, target)
    pos = 0.5 * -math.log(0.9 + EPS) / (1 + EPS) + 0.5 * -math.log(0.6 + EPS) / (1 + EPS)
    ng = -math.log(1 + EPS - 0.2) / (1 + EPS)
    assert out['loss_aff'].item() == pytest.approx((pos + ng) / 2, rel=1e-6)
    # fg: |1.5 - 1| + |-1 - 0| = 1.5 over 2 * 1; bg: |.2| + |.4| = .6 over 2 * 1
    dp_fg = 1.5 / (2 + EPS)
    dp_bg = 0.6 / (2 + EPS)
    assert out['loss_dp'].item() == pytest.approx((dp_fg + dp_bg) / 2, rel=1e-6)
    assert out['loss_dp'].item() == pytest.approx(0.525, abs=1e-5)
    # without the displacement branch only the affinity term is returned
    assert 'loss_dp' not in AffinityDisplacementLoss()(aff, bg, fg, neg)
    with pytest.raises(ValueError):
        AffinityDisplacementLoss()(aff, bg, fg, neg, pair_disp)


def test_loss_with_no_pairs_is_finite():
    aff = torch.rand(2, 34, 5)
    z = torch.zeros_like(aff)
    assert AffinityLoss()(aff, z, z, z).item() == 0.0
    assert AffinityDisplacementLoss()(aff, z, z, z)['loss_aff'].item() == 0.0


def test_pair_labels_radius2_by_hand():
    # sources: rows < 2, cols 1..2 -> (0,1)=0, (0,2)=1, (1,1)=0, (1,2)=1
    label = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [255, 2, 2, 1]]])
    bg, fg, neg = pair_labels(label, pair_offsets(2), radius=2)
    assert bg.shape == (1, 4, 2, 2)
    # offsets (0,1), (1,-1), (1,0), (1,1); entries [src (0,1), (0,2)], [(1,1), (1,2)]
    assert bg[0].tolist() == [
        [[0, 0], [0, 0]],  # (0,1): 0-1, 1-1 / 0-1, 1-1
        [[1, 0], [0, 0]],  # (1,-1): 0-0, 1-0 / 0-255, 1-2
        [[1, 0], [0, 0]],  # (1,0): 0-0, 1-1 / 0-2, 1-2
        [[0, 0], [0, 0]]
    ]  # (1,1): 0-1, 1-1 / 0-2, 1-1
    assert fg[0].tolist() == [[[0, 1], [0, 1]], [[0, 0], [0, 0]], [[0, 1], [0, 0]], [[0, 1], [0,
                                                                                              1]]]
    assert neg[0].tolist() == [[[1, 0], [1, 0]], [[0, 1], [0, 1]], [[0, 0], [1, 1]], [[1, 0],
                                                                                      [1, 0]]]
    # every valid pair is exactly one of the three kinds
    assert ((bg + fg + neg) <= 1).all()
    # crop_pairs keeps the same sources
    assert crop_pairs(label, 2).tolist() == [[[0, 1], [0, 1]]]


def test_combine_labels_by_hand():
    la = torch.tensor([0, 0, 1, 2, 2])
    ha = torch.tensor([0, 1, 1, 0, 2])
    # PSA: la fg kept, 255 where la is bg, 0 where ha is bg (wins over la fg)
    assert combine_psa_labels(la, ha).tolist() == [0, 255, 1, 0, 2]
    # IRN: fg conf kept, 255 where fg is bg, 0 only where both are bg
    assert combine_ir_labels(la, ha).tolist() == [0, 255, 1, 2, 2]
    with pytest.raises(ValueError):
        combine_psa_labels(la, ha[:3])


def test_psa_downsample_label_by_hand():
    # four 2 x 2 blocks
    label = torch.tensor([[[1, 1, 0, 0, 254, 254, 2, 2], [0, 255, 0, 255, 254, 254, 2, 254]]])
    out = psa_downsample_label(label, num_classes=2, factor=2)
    # block 1: la bg 2 (0, 255) vs c1 2 -> tie -> bg -> 255; ha c1 2 > bg 1 -> stays 255
    # block 2: la bg 4 -> 255; ha bg 3 -> 0
    # block 3: padding only -> no score -> 255
    # block 4: three 2s and a pad pixel -> 2
    assert out.tolist() == [[[255, 0, 255, 2]]]
    # odd sizes pool a zero-padded partial block (skimage block_reduce)
    assert psa_downsample_label(torch.ones(1, 3, 3, dtype=torch.long), 1, 2).tolist() == \
        [[[1, 1], [1, 1]]]


def test_nearest_downsample_label_matches_pil():
    label = torch.arange(64).view(1, 8, 8)
    # PIL nearest at 1/4 samples pixel 4 i + 2
    assert nearest_downsample_label(label, 4).tolist() == [[[18, 22], [50, 54]]]
    assert nearest_downsample_label(label, 4, size=(2, 2)).tolist() == [[[18, 22], [50, 54]]]
