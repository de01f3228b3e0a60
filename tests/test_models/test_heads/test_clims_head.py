"""The camera-ready CLIMS head: bottleneck + 1x1 classifier, N(0, 0.01) init."""
import pytest
import torch
from mmengine.registry import init_default_scope
from torch import nn

from mmwsss.models.heads import CAMHead, CLIMSHead


def test_clims_head_bottleneck_and_plain():
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    head = CLIMSHead(in_channels=32, num_classes=5, bottleneck=True, bottleneck_planes=8)
    x = torch.randn(2, 32, 5, 7)
    logits, cams = head(x)
    assert logits.shape == (2, 5) and cams.shape == (2, 5, 5, 7)
    assert isinstance(head.bottleneck.act, nn.LeakyReLU)
    # every conv N(0, 0.01)
    assert head.bottleneck.conv1.weight.std().item() == pytest.approx(0.01, rel=0.2)
    # GAP logits = W * GAP(bottleneck(f))
    feats = head.bottleneck(x)
    assert torch.allclose(logits, head.conv_seg(feats).mean((2, 3)), atol=1e-6)
    plain = CLIMSHead(in_channels=32, num_classes=5, bottleneck=False)
    ref = CAMHead(in_channels=32, num_classes=5)
    ref.conv_seg.weight.data.copy_(plain.conv_seg.weight.data)
    assert torch.allclose(plain(x)[1], ref(x)[1])
