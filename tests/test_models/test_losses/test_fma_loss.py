"""FMA's MultiLabelCLLoss and CAMIntensityLoss, numbers by hand."""
import math

import pytest
import torch

from mmwsss.models.losses.fma_loss import (CAMIntensityLoss, MultiLabelCLLoss, cam_intensity_loss,
                                           multilabel_cl_loss)

S = torch.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, -1.0], [3.0, 3.0, 3.0]])
Y = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]])  # image 2: no negative -> left out

# image 0: positives 0 (S=1) and 2 (S=2), negative {1}: sum e^S_neg = e^0 = 1
L00 = math.log(math.e + 1) - 1  # 0.3132617
L02 = math.log(math.e**2 + 1) - 2  # 0.1269280
# image 1: positive 1 (S=1), negatives {0, 2}: e^0.5 + e^-1
L11 = math.log(math.e + math.exp(0.5) + math.exp(-1)) - 1


def test_multilabel_cl_pos_mean():
    assert L00 == pytest.approx(0.3132617, abs=1e-6)
    assert L02 == pytest.approx(0.1269280, abs=1e-6)
    got = multilabel_cl_loss(S, Y)
    assert float(got) == pytest.approx((L00 + L02 + L11) / 3, abs=1e-6)
    got = multilabel_cl_loss(S, Y, reduce='sample_mean')
    assert float(got) == pytest.approx(((L00 + L02) / 2 + L11) / 2, abs=1e-6)
    # gamma scales S first
    got = multilabel_cl_loss(S[:1], Y[:1], gamma=2.0)
    l0 = math.log(math.exp(2) + 1) - 2
    l2 = math.log(math.exp(4) + 1) - 4
    assert float(got) == pytest.approx((l0 + l2) / 2, abs=1e-6)


def test_multilabel_cl_module_grad_and_empty():
    s = S.clone().requires_grad_(True)
    loss = MultiLabelCLLoss(loss_weight=2.0)(s, Y)
    assert float(loss) == pytest.approx(2 * (L00 + L02 + L11) / 3, abs=1e-6)
    loss.backward()
    assert torch.all(s.grad[2] == 0)  # the all-positive image takes no part
    # d l00 / d S_00 = -(1 - e/(e+1)) / 3 * 2
    assert float(s.grad[0, 0]) == pytest.approx(-2 / 3 * (1 - math.e / (math.e + 1)), abs=1e-6)
    zero = multilabel_cl_loss(S[2:], Y[2:])
    assert float(zero) == 0.0


# ------------------------------------------------------------- CAM intensity
CAM = torch.tensor([[[0.2, -0.1, 0.5], [0.8, 0.4, -0.3], [0.0, 0.6, 0.1]]])
SEED = torch.tensor([[[2, 0, 2], [2, 255, 0], [1, 0, 0]]])


def test_cam_intensity_one_positive():
    labels = torch.tensor([[0, 1]])  # class 1 -> seed value 2
    # fg pixels (0,0) .2, (0,2) .5, (1,0) .8: max .8 -> |.8-.2| + |.8-.5| + 0 = 0.9
    # bg pixels (not 2, not 255): -.1, -.3, 0, .6, .1 -> max(cam, 0) sum 0.7
    got = cam_intensity_loss(CAM, labels, SEED)
    assert float(got) == pytest.approx((0.9 + 0.7) / 9, abs=1e-6)
    # official bg_mask = 1 - fg_mask: the 255 pixel (0.4) is a bg pixel too
    got = cam_intensity_loss(CAM, labels, SEED, bg_on_ignore=True)
    assert float(got) == pytest.approx((0.9 + 1.1) / 9, abs=1e-6)
    # l2: fg .5(.36 + .09), bg .5(.36 + .01)
    got = cam_intensity_loss(CAM, labels, SEED, loss_type='l2')
    assert float(got) == pytest.approx((0.5 * 0.45 + 0.5 * 0.37) / 9, abs=1e-6)


def test_cam_intensity_two_positives_and_grad():
    labels = torch.tensor([[1, 1]])
    cams = torch.cat([CAM, CAM]).requires_grad_(True)  # class 0 (seed 1), class 1 (seed 2)
    # class 0: fg = (2,0) value 0 -> max(0, 0) = 0, term 0; bg = all but (2,0) and the
    # 255 pixel: .2 + .5 + .8 + .6 + .1 = 2.2
    loss = CAMIntensityLoss()(cams, labels, SEED)
    assert float(loss) == pytest.approx((0.9 + 0.7 + 0.0 + 2.2) / 18, abs=1e-6)
    loss.backward()
    # max detached: the fg max pixel gets no gradient; other fg pixels -1/18; positive
    # bg pixels +1/18; negative bg and ignored pixels 0
    g = cams.grad[1] * 18
    assert torch.allclose(g, torch.tensor([[-1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))


def test_cam_intensity_resizes_to_seed():
    labels = torch.tensor([[1, 0]])
    cam = torch.full((1, 2, 2), 0.5)
    seed = torch.zeros(1, 4, 4, dtype=torch.long)
    seed[0, :2, :2] = 1
    # constant map: fg term 0, bg term 0.5 on 12 pixels -> 6 / 16
    assert float(cam_intensity_loss(cam, labels, seed)) == pytest.approx(6 / 16)
    with pytest.raises(ValueError, match='positive'):
        cam_intensity_loss(cam, torch.tensor([[1, 1]]), seed)
