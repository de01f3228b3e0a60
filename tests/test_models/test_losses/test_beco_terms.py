"""BECO's CE / COT terms on a hand-computed 2x2 example (train_beco.py: train_step)."""
import math

import torch

from mmwsss.models.losses.terms.beco import BECOTerm, beco_ce_loss, beco_cot_loss, beco_weighted_ce
from mmwsss.structures import BranchOutput, TrainContext

L3 = math.log(3.0)


def _logits(pairs):
    """(1, 2, 2, 2) logits from four (l0, l1) pixels in raster order."""
    t = torch.tensor(pairs, dtype=torch.float32).view(2, 2, 2).permute(2, 0, 1)
    return t[None].contiguous()


# pixels a b / c d
OUT1 = _logits([(0.0, L3), (0.0, 0.0), (L3, 0.0), (5.0, 1.0)])
OUT2 = _logits([(0.0, 1.0), (2.0, 0.0), (0.0, 3.0), (1.0, 0.0)])  # argmax 1 0 / 1 0
LABEL = torch.tensor([[[0, 1], [1, 255]]])
MASK = torch.tensor([[[1, 0], [1, 1]]])
BDRY = torch.tensor([[[1., 0.], [0., 0.]]])


def test_ce_is_masked_boundary_weighted_and_averaged_over_all_pixels():
    # a: label 0 under (0, ln3): p0 = 1/4 -> CE ln4, mask 1, B 1 -> x1.2
    # b: mask 0 -> 0; c: label 1 under (ln3, 0): CE ln4; d: ignore -> 0
    expected = (1.2 * math.log(4) + math.log(4)) / 4  # / ALL 4 pixels
    got = beco_ce_loss(OUT1, LABEL, MASK, BDRY, boundary_weight=0.2)
    assert math.isclose(float(got), expected, rel_tol=1e-6)
    # without the boundary: (ln4 + ln4) / 4
    got = beco_ce_loss(OUT1, LABEL, MASK, None)
    assert math.isclose(float(got), 2 * math.log(4) / 4, rel_tol=1e-6)


def test_cot_supervises_unconfident_pixels_with_the_other_argmax():
    # only b has mask 0; the other net's argmax there is 0; out1 at b is (0, 0): ln2
    got = beco_cot_loss(OUT1, OUT2, MASK, BDRY, boundary_weight=0.0)
    assert math.isclose(float(got), math.log(2) / 4, rel_tol=1e-6)
    # the same pixel from net 2's side: out2 at b = (2, 0), target argmax out1 at b = 0
    # (a tie (0, 0) -> index 0): CE = log(1 + e^-2)
    got = beco_cot_loss(OUT2, OUT1, MASK)
    assert math.isclose(float(got), math.log(1 + math.exp(-2)) / 4, rel_tol=1e-6)


def test_masked_reduction_is_the_renormalised_variant():
    # not BECO: dividing by the weight sum of the non-ignored pixels (1.2 + 1)
    w = MASK.float() * (1 + 0.2 * BDRY)
    got = beco_weighted_ce(OUT1, LABEL, w, reduction='masked')
    assert math.isclose(float(got), 2.2 * math.log(4) / 2.2, rel_tol=1e-6)


def test_no_gradient_through_the_other_net():
    o1, o2 = OUT1.clone().requires_grad_(), OUT2.clone().requires_grad_()
    beco_cot_loss(o1, o2, MASK).backward()
    assert o2.grad is None and o1.grad is not None


def test_term_returns_the_four_losses_from_low_resolution_logits():
    # stride-2 logits are resized to the 4x4 label (bilinear, align_corners=False)
    torch.manual_seed(0)
    l1, l2 = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)
    label = torch.randint(0, 3, (2, 4, 4))
    mask = torch.randint(0, 2, (2, 4, 4))
    bdry = torch.randint(0, 2, (2, 4, 4)).float()
    ctx = TrainContext(
        inputs=torch.zeros(2, 3, 4, 4),
        img=torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
        img_labels=torch.ones(2, 2),
        data_samples=[],
        branches=dict(
            b1=BranchOutput(feats=None, seg_logits=l1), b2=BranchOutput(feats=None, seg_logits=l2)),
        pseudo=dict(pl=label, conf=mask, bdry=bdry),
        valid_mask=torch.ones(2, 4, 4, dtype=torch.bool))
    out = BECOTerm()(ctx)
    assert sorted(out) == ['loss_ce1', 'loss_ce2', 'loss_cot1', 'loss_cot2']
    up = torch.nn.functional.interpolate
    u1 = up(l1, size=(4, 4), mode='bilinear', align_corners=False)
    u2 = up(l2, size=(4, 4), mode='bilinear', align_corners=False)
    assert torch.allclose(out['loss_ce1'], beco_ce_loss(u1, label, mask, bdry, 0.2))
    assert torch.allclose(out['loss_cot2'], beco_cot_loss(u2, u1, mask, bdry, 0.0))
    # padding (valid False) counts in neither term
    ctx.valid_mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    out = BECOTerm()(ctx)
    assert all(float(v) == 0 for v in out.values())
