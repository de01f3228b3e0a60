"""WeCLIP's seg / affinity losses and pair labels, numbers worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.terms.weclip import (radius_mask, weclip_affinity_label,
                                               weclip_affinity_loss, weclip_seg_loss)


def official_style_seg_loss(pred, label, ignore_index=255):
    """get_seg_loss written out: two masked CE means (bg only / fg only), averaged."""
    bg = label.clone()
    bg[label != 0] = ignore_index
    fg = label.clone()
    fg[label == 0] = ignore_index
    return 0.5 * (
        F.cross_entropy(pred, bg, ignore_index=ignore_index) +
        F.cross_entropy(pred, fg, ignore_index=ignore_index))


def test_seg_loss_bg_fg_split_2x2():
    # 3 classes; label [[0, 1], [2, 255]]; logits per pixel chosen so each CE is closed-form
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0, 0, 0] = 2.0  # bg pixel, logits (2, 0, 0): CE = log(1 + 2 e^-2)
    logits[0, 1, 0, 1] = 1.0  # class-1 pixel, logits (0, 1, 0): CE = log(1 + 2 e^-1)
    logits[0, :, 1, 1] = torch.tensor([5.0, -3.0, 1.0])  # ignored pixel: must not count
    # class-2 pixel, logits (0, 0, 0): CE = log 3
    label = torch.tensor([[[0, 1], [2, 255]]])
    bg = math.log(1 + 2 * math.exp(-2))
    fg = (math.log(1 + 2 * math.exp(-1)) + math.log(3)) / 2
    expected = 0.5 * bg + 0.5 * fg  # NOT the mean over the 3 valid pixels
    assert weclip_seg_loss(logits, label).item() == pytest.approx(expected, abs=1e-6)
    assert official_style_seg_loss(logits, label).item() == pytest.approx(expected, abs=1e-6)
    plain = (bg + math.log(1 + 2 * math.exp(-1)) + math.log(3)) / 3
    assert abs(expected - plain) > 1e-2  # the split matters on this label


def test_seg_loss_empty_group_is_zero_not_nan():
    logits = torch.randn(1, 3, 2, 2)
    label = torch.ones(1, 2, 2, dtype=torch.long)  # no bg pixel
    loss = weclip_seg_loss(logits, label)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(0.5 * F.cross_entropy(logits, label).item(), abs=1e-6)


def test_radius_mask_is_a_square_window():
    m = radius_mask(10, 10, radius=8)
    assert m.shape == (100, 100) and torch.equal(m, m.t())
    idx = lambda r, c: r * 10 + c  # noqa: E731
    assert m[idx(0, 0), idx(8, 8)]  # Chebyshev distance 8: inside (not a disc)
    assert not m[idx(0, 0), idx(9, 0)]  # row distance 9
    assert not m[idx(0, 0), idx(0, 9)]
    assert m[idx(3, 4), idx(3, 4)]


def test_affinity_labels_within_radius_8():
    # a 16 x 160 label -> a 1 x 10 token grid; token t's label is the top-left pixel of its
    # 16 x 16 block (nearest), the rest of the block holds other values to catch averaging
    tok = [0, 0, 1, 1, 2, 0, 0, 0, 1, 255]
    label = torch.full((1, 16, 160), 7, dtype=torch.long)
    for t, v in enumerate(tok):
        label[0, 0, 16 * t] = v
    aff = weclip_affinity_label(label, radius=8, stride=16)
    assert aff.shape == (1, 10, 10)
    a = aff[0]
    assert a[0, 1] == 1 and a[0, 5] == 1 and a[0, 8] == 0  # same / same / differ (dist 8)
    assert a[2, 3] == 1 and a[2, 4] == 0 and a[0, 0] == 1  # the diagonal is a positive pair
    assert a[0, 9] == 255 and a[9, 0] == 255  # ignored token (and distance 9)
    assert a[1, 9] == 255 and a[9, 9] == 255
    # distance > 8 is ignored even between equal labels: only pair (0, 9) is that far here
    label2 = torch.zeros(1, 16, 160, dtype=torch.long)
    a2 = weclip_affinity_label(label2)[0]
    assert a2[0, 9] == 255 and a2[9, 0] == 255 and a2[0, 8] == 1 and a2[1, 9] == 1
    assert int((a2 == 255).sum()) == 2


def test_affinity_loss_by_hand():
    affinity = torch.tensor([[[0.9, 0.2], [0.4, 0.7]]])
    target = torch.tensor([[[1, 0], [255, 1]]])
    # pos: (1 - 0.9) + (1 - 0.7) = 0.4 over 2 + 1; neg: 0.2 over 1 + 1
    expected = 0.5 * 0.4 / 3 + 0.5 * 0.2 / 2
    assert weclip_affinity_loss(affinity, target).item() == pytest.approx(expected, abs=1e-6)
