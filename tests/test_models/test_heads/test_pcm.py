"""PCM / PRCM pieces of the SEAM / CPN CAM head on hand-computed inputs."""
import math

import pytest
import torch

from mmwsss.models.backbones import AppendInput
from mmwsss.models.heads.pcm import (PCMCAMHead, pcm_propagate, prcm_attention, seam_cam_norm,
                                     spatial_gather)


def test_seam_cam_norm_by_hand():
    # (bg, f1, f2) at 2 pixels; per-map max of relu(cam): bg 1, f1 2, f2 4
    cam = torch.tensor([[1.0, -3.0], [2.0, 1.0], [1.0, 4.0]]).view(1, 3, 1, 2)
    out = seam_cam_norm(cam).view(3, 2)
    e = 1e-5
    f1 = torch.tensor([(2 - e) / (2 + e), (1 - e) / (2 + e)])
    f2 = torch.tensor([(1 - e) / (4 + e), (4 - e) / (4 + e)])
    fg_max = torch.maximum(f1, f2)
    assert torch.allclose(out[0], 1 - fg_max)  # bg = 1 - max fg BEFORE the zeroing
    assert torch.allclose(out[1], torch.tensor([f1[0], 0.0]))  # non-max fg zeroed
    assert torch.allclose(out[2], torch.tensor([0.0, f2[1]]))
    assert not out.requires_grad


def test_pcm_propagate_by_hand():
    # two pixels with f = (1, 0) and (1, 1): cos = 1/sqrt(2); affinity columns sum to 1
    proj = torch.tensor([[1.0, 1.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    cam = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    r = 1 / math.sqrt(2)
    exp = torch.tensor([1 / (1 + r), r / (1 + r)])
    assert torch.allclose(pcm_propagate(cam, proj).view(-1), exp, atol=1e-4)


def test_spatial_gather_by_hand():
    feats = torch.tensor([2.0, 4.0]).view(1, 1, 1, 2)
    probs = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)  # softmax -> (0.25, 0.75)
    ctx = spatial_gather(feats, probs)
    assert ctx.shape == (1, 1, 1, 1)
    assert ctx.item() == pytest.approx(0.25 * 2 + 0.75 * 4)


def test_prcm_raw_view_is_not_a_transpose():
    # key block (D=2, K=3) = [[0, 1, 2], [3, 4, 5]]: the raw view gives rows (0,1),(2,3),(4,5);
    # a transpose would give (0,3),(1,4),(2,5)
    key = torch.arange(6.0).view(1, 2, 3, 1)
    value = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)  # pixel i = unit vector i
    out = prcm_attention(key, value).view(3, 2)
    # every raw row differs by -1 between the two pixels: softmax(x / sqrt(3))
    p = torch.sigmoid(torch.tensor(-1 / math.sqrt(3)))
    assert torch.allclose(out, torch.tensor([[p, 1 - p]] * 3), atol=1e-6)
    q = torch.sigmoid(torch.tensor(-3 / math.sqrt(3)))  # what a transpose would give
    assert not torch.allclose(out[:, 0], q.expand(3), atol=1e-3)


class _Toy(torch.nn.Module):
    """conv4 / conv5 / conv6 stand-ins on a stride-4 grid of a non-multiple input."""

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(3, 8, 3, stride=4, padding=1)

    def forward(self, x):
        f = self.c(x)
        return f[:, :4], f[:, 4:], f.relu()


@pytest.mark.parametrize('with_prcm', [False, True])
def test_head_shapes_logits_and_detached_pcm_features(with_prcm):
    torch.manual_seed(0)
    net = AppendInput.__new__(AppendInput)
    torch.nn.Module.__init__(net)
    net.backbone = _Toy()
    head = PCMCAMHead(
        in_channels=8,
        pcm_in_channels=(4, 4),
        pcm_channels=(2, 3),
        num_classes=5,
        with_prcm=with_prcm).eval()
    x = torch.randn(2, 3, 37, 29)
    feats = net(x)
    assert feats[-1] is x
    parts = head.forward_parts(feats)
    assert parts['cam'].shape == parts['cam_rv'].shape == (2, 6, 37, 29)
    assert parts['cam_lowres'].shape == (2, 6, 10, 8)
    assert torch.allclose(parts['logits'], parts['cam'].mean((2, 3))[:, 1:])
    logits, cams = head(feats)
    assert torch.equal(cams, parts['cam_rv'][:, 1:]) and torch.equal(logits, parts['logits'])
    # PCM reads conv4 / conv5 detached and the CAM without gradient: cam_rv trains only
    # f8_3 / f8_4 / f9 (/ f10), never the backbone
    grads = torch.autograd.grad(
        parts['cam_rv'].sum(),
        list(net.backbone.parameters()) + [head.f9.weight, head.fc8.weight],
        allow_unused=True)
    assert all(g is None for g in grads[:-2])
    assert grads[-2] is not None and grads[-1] is None
