"""bg/fg-balanced segmentation CE (ToCo / DuPL / MoRe ``get_seg_loss``), by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.seg_loss import bg_fg_seg_loss

L2, L3 = math.log(2), math.log(3)


def _logits(*pixels):
    """(1, 3, 1, W) logits from per-pixel 3-vectors."""
    return torch.tensor(pixels).t().reshape(1, 3, 1, len(pixels))


# pixel A: (ln 2, 0, 0) -> softmax (1/2, 1/4, 1/4): CE(label 0) = ln 2
# pixel B: (0, 0, ln 2) -> softmax (1/4, 1/4, 1/2): CE(label 2) = ln 2
# pixel C: (0, 0, 0)    -> softmax (1/3, 1/3, 1/3): CE(any)     = ln 3
A, B, C = (L2, 0., 0.), (0., 0., L2), (0., 0., 0.)


def test_split_average_by_hand():
    logits = _logits(A, B, C, C)
    label = torch.tensor([[[0, 2, 1, 255]]])
    # bg: pixel A -> ln 2; fg: pixels B, C -> (ln 2 + ln 3) / 2; the 255 pixel is out
    # L = .5 ln 2 + .25 (ln 2 + ln 3) = .75 ln 2 + .25 ln 3 = .519860 + .274653 = .794513
    expected = 0.75 * L2 + 0.25 * L3
    assert expected == pytest.approx(0.794513, abs=1e-6)
    assert bg_fg_seg_loss(logits, label).item() == pytest.approx(expected, abs=1e-6)
    # a plain pooled CE would be (ln 2 + ln 2 + ln 3) / 3 = .828302
    pooled = F.cross_entropy(logits, label, ignore_index=255).item()
    assert pooled == pytest.approx((2 * L2 + L3) / 3, abs=1e-6)
    # DuPL/MoRe eps = 1e-6: .5 ln 2 / (1 + 1e-6) + .5 (ln 2 + ln 3) / (2 + 1e-6), same to 1e-6
    assert bg_fg_seg_loss(logits, label, eps=1e-6).item() == pytest.approx(expected, abs=1e-6)
    assert bg_fg_seg_loss(logits, label, empty='nan').item() == pytest.approx(expected, abs=1e-6)


def test_matches_toco_form_when_both_groups_present():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=g)
    label = torch.randint(0, 4, (2, 5, 6), generator=g)
    label[0, 0] = 255
    # ToCo's form: F.cross_entropy means over label copies with the other group ignored
    bg = label.clone()
    bg[label != 0] = 255
    fg = label.clone()
    fg[label == 0] = 255
    toco = 0.5 * (
        F.cross_entropy(logits, bg, ignore_index=255) +
        F.cross_entropy(logits, fg, ignore_index=255))
    assert bg_fg_seg_loss(logits, label).item() == pytest.approx(toco.item(), abs=1e-6)


def test_empty_fg_group():
    logits = _logits(A, A, C, C)
    label = torch.tensor([[[0, 0, 255, 255]]])
    # bg: ln 2 for both pixels -> mean ln 2; fg: no pixel
    # guarded (default): .5 ln 2 + .5 * 0 = .346574
    out = bg_fg_seg_loss(logits, label)
    assert out.item() == pytest.approx(0.5 * L2, abs=1e-6)
    assert 0.5 * L2 == pytest.approx(0.346574, abs=1e-6)
    # DuPL/MoRe: .5 * 2 ln 2 / (2 + 1e-6) + .5 * 0 / 1e-6, in either mode
    dupl = 0.5 * 2 * L2 / (2 + 1e-6)
    assert bg_fg_seg_loss(logits, label, eps=1e-6).item() == pytest.approx(dupl, abs=1e-6)
    assert bg_fg_seg_loss(
        logits, label, eps=1e-6, empty='nan').item() == pytest.approx(
            dupl, abs=1e-6)
    # ToCo quirk: the fg mean is 0 / 0
    assert math.isnan(bg_fg_seg_loss(logits, label, empty='nan').item())
    bg = label.clone()
    fg = torch.full_like(label, 255)
    toco = 0.5 * (
        F.cross_entropy(logits, bg, ignore_index=255) +
        F.cross_entropy(logits, fg, ignore_index=255))
    assert math.isnan(toco.item())


def test_guarded_gradients_are_finite():
    logits = _logits(A, A).requires_grad_(True)
    label = torch.tensor([[[0, 0]]])
    bg_fg_seg_loss(logits, label).backward()
    assert torch.isfinite(logits.grad).all()
    # d/dz0 of .5 * mean CE(label 0) at pixel A: .5 * (p0 - 1) / 2 = .5 * (-.5) / 2 = -.125
    assert logits.grad[0, 0, 0, 0].item() == pytest.approx(-0.125, abs=1e-6)
    # all ignored: 0, no NaN
    out = bg_fg_seg_loss(_logits(A, B), torch.tensor([[[255, 255]]]))
    assert out.item() == 0.0


def test_checks():
    with pytest.raises(ValueError):
        bg_fg_seg_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError):
        bg_fg_seg_loss(
            torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), empty='skip')
