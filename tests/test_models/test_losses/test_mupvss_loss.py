"""MuP-VSS's three losses, each against numbers worked out by hand (tau = 1 or 0.5)."""
import math

import pytest
import torch

from mmwsss.models.losses.class_token_contrast import attri_loss
from mmwsss.models.losses.mupvss_loss import ccp_contrast, cip_contrast, p2p_consistency

A = 1 / math.sqrt(2)  # cos((1, 0), (1, 1))


def lse(*xs):
    return math.log(sum(math.exp(x) for x in xs))


def protos_3():
    # p0 = (1, 0), p1 = (0.6, 0.8), p2 = (1, 1): cos01 = 0.6, cos02 = 1/sqrt2, cos12 = 1.4/sqrt2
    return torch.tensor([[[1.0, 0.0], [0.6, 0.8], [1.0, 1.0]]])


def test_ccp_by_hand_present_anchors_all_negatives():
    c12 = 1.4 / math.sqrt(2)
    for tau in (1.0, 0.5):
        l0 = lse(1 / tau, 0.6 / tau, A / tau) - 1 / tau
        l1 = lse(0.6 / tau, 1 / tau, c12 / tau) - 1 / tau
        got = ccp_contrast(protos_3(), torch.tensor([[1.0, 1.0, 0.0]]), tau=tau)
        assert got.item() == pytest.approx((l0 + l1) / 2, abs=1e-6)


def test_ccp_by_hand_present_negatives_only():
    # the absent p2 is not a negative: both anchors see {p0, p1}
    want = lse(1.0, 0.6) - 1.0
    got = ccp_contrast(protos_3(), torch.tensor([[1.0, 1.0, 0.0]]), tau=1.0, negatives='present')
    assert got.item() == pytest.approx(want, abs=1e-6)


def test_ccp_single_label_image_still_repels_absent_prototypes():
    # one present class, negatives 'all': the anchor p2 vs every prototype of the image
    c12 = 1.4 / math.sqrt(2)
    want = lse(A, c12, 1.0) - 1.0
    got = ccp_contrast(protos_3(), torch.tensor([[0.0, 0.0, 1.0]]), tau=1.0)
    assert got.item() == pytest.approx(want, abs=1e-6)


def test_ccp_all_all_is_more_attri_loss():
    torch.manual_seed(0)
    p = torch.randn(3, 5, 7)
    labels = (torch.rand(3, 5) > 0.5).float()
    got = ccp_contrast(p, labels, tau=0.07, anchors='all', negatives='all')
    assert torch.allclose(got, attri_loss(p, 0.07), atol=1e-5)


def test_ccp_no_anchor_is_zero_with_graph():
    p = protos_3().requires_grad_()
    got = ccp_contrast(p, torch.zeros(1, 3))
    assert got.item() == 0.0
    got.backward()
    assert p.grad is not None


def test_cip_by_hand():
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    keys = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
    a_cls, k_cls = torch.tensor([0, 1]), torch.tensor([0, 1, 0])
    l_a0 = ((lse(1, 0.6, 0.8) - 1) + (lse(1, 0.6, 0.8) - 0.8)) / 2  # two positives: k0, k2
    l_a1 = lse(0, 0.8, 0.6) - 0.8  # one positive: k1
    got = cip_contrast(anchors, a_cls, keys, k_cls, tau=1.0)
    assert got.item() == pytest.approx((l_a0 + l_a1) / 2, abs=1e-6)
    # tau 0.5 doubles every similarity
    l_a1 = lse(0, 1.6, 1.2) - 1.6
    l_a0 = ((lse(2, 1.2, 1.6) - 2) + (lse(2, 1.2, 1.6) - 1.6)) / 2
    got = cip_contrast(anchors, a_cls, keys, k_cls, tau=0.5)
    assert got.item() == pytest.approx((l_a0 + l_a1) / 2, abs=1e-6)


def test_cip_exclude_and_anchors_without_positive():
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    keys = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
    a_cls, k_cls = torch.tensor([0, 1]), torch.tensor([0, 1, 0])
    # anchor 0 must not see k0; anchor 1 sees nothing at all (no positive: left out)
    exclude = torch.tensor([[True, False, False], [True, True, True]])
    got = cip_contrast(anchors, a_cls, keys, k_cls, tau=1.0, exclude=exclude)
    assert got.item() == pytest.approx(lse(0.6, 0.8) - 0.8, abs=1e-6)
    got.backward()
    assert torch.isfinite(anchors.grad).all()
    # no positive anywhere, or no key: 0 with a graph
    assert cip_contrast(anchors, torch.tensor([2, 2]), keys, k_cls).item() == 0.0
    assert cip_contrast(anchors, a_cls, keys[:0], k_cls[:0]).item() == 0.0


def p2p_inputs():
    # a 1 x 3 grid (not square): x0 = (1, 0) bg, x1 = (0, 1) class 0, x2 = (2, 1) class 1
    patches = torch.tensor([[[[1.0, 0.0, 2.0]], [[0.0, 1.0, 1.0]]]])  # (1, 2, 1, 3)
    protos = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]]])  # P0, P1, P2 (absent)
    label = torch.tensor([[[0, 1, 2]]])
    img_labels = torch.tensor([[1.0, 1.0, 0.0]])
    return patches, protos, label, img_labels


def test_p2p_by_hand():
    patches, protos, label, img_labels = p2p_inputs()
    # bg prototype = mean of the bg patches = (1, 0); candidates bg, P0, P1 (P2 is absent)
    c2 = (2 / math.sqrt(5), 1 / math.sqrt(5), 3 / math.sqrt(10))  # x2 vs bg, P0, P1
    l0 = lse(1, 0, A) - 1
    l1 = lse(0, 1, A) - 1
    l2 = lse(*c2) - c2[2]
    got = p2p_consistency(patches, protos, label, img_labels, tau=1.0)
    assert got.item() == pytest.approx((l0 + l1 + l2) / 3, abs=1e-5)
    got = p2p_consistency(patches, protos, label, img_labels, tau=0.5)
    want = (lse(2, 0, 2 * A) - 2 + lse(0, 2, 2 * A) - 2 + lse(*[2 * c for c in c2]) - 2 * c2[2]) / 3
    assert got.item() == pytest.approx(want, abs=1e-5)


def test_p2p_ignore_absent_and_no_bg():
    patches, protos, label, img_labels = p2p_inputs()
    c2 = (2 / math.sqrt(5), 1 / math.sqrt(5), 3 / math.sqrt(10))
    # x0 ignored, x2 labelled with the absent class 2: only x1 counts, and no bg prototype
    # exists (no bg patch), so x1 chooses among P0 and P1
    lab = torch.tensor([[[255, 1, 3]]])
    got = p2p_consistency(patches, protos, lab, img_labels, tau=1.0)
    assert got.item() == pytest.approx(lse(1, A) - 1, abs=1e-5)
    # bg='none': the bg patch is not counted and bg is not a candidate
    got = p2p_consistency(patches, protos, label, img_labels, tau=1.0, bg='none')
    want = (lse(1, A) - 1 + lse(c2[1], c2[2]) - c2[2]) / 2
    assert got.item() == pytest.approx(want, abs=1e-5)


def test_p2p_gradients_and_detached_bg():
    patches, protos, label, img_labels = p2p_inputs()
    patches.requires_grad_()
    protos.requires_grad_()
    p2p_consistency(patches, protos, label, img_labels).backward()
    assert torch.isfinite(patches.grad).all() and torch.isfinite(protos.grad).all()
    assert protos.grad[0, 2].abs().sum() == 0  # the absent prototype gets nothing
    # an image with no label at all: 0, finite gradient
    patches.grad = None
    out = p2p_consistency(patches, protos, torch.full_like(label, 255), torch.zeros(1, 3))
    out.backward()
    assert out.item() == 0.0 and torch.isfinite(patches.grad).all()


def test_p2p_label_must_be_on_token_grid():
    patches, protos, label, img_labels = p2p_inputs()
    with pytest.raises(ValueError, match='token grid'):
        p2p_consistency(patches, protos, label[..., :2], img_labels)
