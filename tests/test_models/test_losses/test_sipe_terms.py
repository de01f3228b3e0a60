"""SIPE's GSC loss and valid mask on hand-computed numbers."""
import torch

from mmwsss.models.losses.gsc_loss import gsc_loss
from mmwsss.models.losses.terms.sipe import sipe_valid_mask


def test_gsc_loss_by_hand():
    norm_cam = torch.tensor([0.5, 0.5, 0.0]).view(1, 1, 1, 3)
    is_cam = torch.tensor([0.2, 0.4, 0.1]).view(1, 1, 1, 3)
    # IS-CAM / (0.4 + 1e-5) = (0.49999, 0.99998, 0.25); |diff| = (0.00001, 0.49998, 0.25)
    peak = 0.4 + 1e-5
    expected = (abs(0.5 - 0.2 / peak) + abs(0.5 - 0.4 / peak) + 0.1 / peak) / 3
    assert abs(gsc_loss(norm_cam, is_cam).item() - expected) < 1e-6
    # per-channel max normalisation, mean over all channels
    two = torch.stack([norm_cam[0, 0], norm_cam[0, 0]])[None]
    is2 = torch.stack([is_cam[0, 0], 2 * is_cam[0, 0]])[None]
    assert abs(gsc_loss(two, is2).item() - expected) < 1e-5


def test_gsc_gradient_reaches_the_max():
    is_cam = torch.tensor([0.2, 0.4]).view(1, 1, 1, 2).requires_grad_()
    gsc_loss(torch.zeros(1, 1, 1, 2), is_cam).backward()
    # loss = (x0 / m + x1 / m) / 2 with m = x1 + eps: d/dx0 = 1 / (2 m);
    # d/dx1 = (eps - x0) / (2 m^2) (the max is differentiated, as in the official in-place /=)
    m = 0.4 + 1e-5
    assert torch.allclose(
        is_cam.grad.flatten(), torch.tensor([1 / (2 * m), (1e-5 - 0.2) / (2 * m**2)]), atol=1e-4)


def test_valid_mask_labels_and_padding():
    labels = torch.tensor([[0., 1.]])
    pad = torch.ones(1, 4, 6, dtype=torch.bool)
    pad[:, :, 3:] = False  # right half padding
    v = sipe_valid_mask(labels, (2, 3), pad)
    assert v.shape == (1, 3, 2, 3)
    region = torch.tensor([[1., 1., 0.], [1., 1., 0.]])  # nearest from 4x6 to 2x3
    assert torch.equal(v[0, 0], region)
    assert torch.equal(v[0, 1], torch.zeros(2, 3))
    assert torch.equal(v[0, 2], region)
    assert torch.equal(sipe_valid_mask(labels, (2, 3))[0, 0], torch.ones(2, 3))
