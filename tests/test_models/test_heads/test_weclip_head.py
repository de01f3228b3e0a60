"""WeCLIP's decoder: affinity sigmoid(F^T F), shapes, the test-time predictor."""
import math

import torch

from mmwsss.models.heads.weclip_head import WeCLIPHead, WeCLIPPredictor, decoder_affinity


def test_decoder_affinity_by_hand():
    # F: 2 channels on a 1 x 2 grid, tokens f0 = (1, 0), f1 = (1, 2)
    feats = torch.tensor([[[[1.0, 1.0]], [[0.0, 2.0]]]])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected = torch.tensor([[[sig(1), sig(1)], [sig(1), sig(5)]]])
    assert torch.allclose(decoder_affinity(feats), expected, atol=1e-6)


def test_head_shapes_and_affinity_only_in_training():
    torch.manual_seed(0)
    head = WeCLIPHead(in_channels=16, channels=32, num_classes=5, num_layers=3, trans_heads=4)
    feats = [torch.randn(2, 16, 3, 4) for _ in range(4)]  # one extra map: ignored
    head.train()
    out = head(feats)
    assert out.shape == (2, 5, 3, 4)
    assert head.last_affinity.shape == (2, 12, 12)
    assert ((head.last_affinity > 0) & (head.last_affinity < 1)).all()
    head.eval()
    head(feats)
    assert head.last_affinity is None


class _Branch:
    """A stand-in branch whose 'logits' are the first input channel pooled by 16."""

    def extract_feat(self, x):
        return x

    def seg_forward(self, x):
        return torch.nn.functional.avg_pool2d(x[:, :2], 16)


class _Model:
    branches = dict(net=_Branch())
    predict_branch = 'net'


def test_predictor_averages_flips_and_scales_at_the_first_grid():
    x = torch.arange(64 * 96, dtype=torch.float32).view(1, 1, 64, 96).repeat(1, 2, 1, 1)
    out = WeCLIPPredictor(scales=(1.0, ), flip=True)(_Model(), x)
    pooled = torch.nn.functional.avg_pool2d(x, 16)
    assert out.shape == (1, 2, 4, 6)
    # (logits + flip(logits of the flipped input)) / 2 == logits for this flip-equivariant net
    assert torch.allclose(out, pooled)
    out2 = WeCLIPPredictor(scales=(1.0, 0.75), flip=False)(_Model(), x)
    assert out2.shape == (1, 2, 4, 6)
