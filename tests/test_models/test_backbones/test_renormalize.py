"""Renormalize: a branch backbone sees its own normalisation, exactly."""
import pytest
import torch
from torch import nn

from mmwsss.models.backbones import Renormalize
from mmwsss.registry import MODELS


@MODELS.register_module(force=True)
class _EchoBackbone(nn.Module):

    def forward(self, x):
        return (x, )


def test_maps_imagenet_stats_to_effnet_stats():
    src_mean, src_std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    m = Renormalize(
        backbone=dict(type='_EchoBackbone'),
        src_mean=src_mean,
        src_std=src_std,
        mean=[127., 127., 127.],
        std=[128., 128., 128.])
    img = torch.tensor([0., 127., 255.]).view(1, 3, 1, 1).expand(1, 3, 2, 3)
    x = (img - torch.tensor(src_mean).view(1, 3, 1, 1)) / torch.tensor(src_std).view(1, 3, 1, 1)
    out = m(x)[0]
    expected = (img - 127.) / 128.  # channel 0: -0.9921875, 1: 0, 2: 1
    assert torch.allclose(out, expected, atol=1e-6)
    assert out[0, 0, 0, 0].item() == pytest.approx(-127 / 128, abs=1e-6)
    # the statistics are not weights: nothing extra in the state dict
    assert list(m.state_dict()) == []


def test_bad_statistics_are_errors():
    with pytest.raises(ValueError, match='src_mean needs 3 values'):
        Renormalize(
            backbone=dict(type='_EchoBackbone'),
            src_mean=[0.],
            src_std=[1.] * 3,
            mean=[0.] * 3,
            std=[1.] * 3)
    with pytest.raises(ValueError, match='must be > 0'):
        Renormalize(
            backbone=dict(type='_EchoBackbone'),
            src_mean=[0.] * 3,
            src_std=[1.] * 3,
            mean=[0.] * 3,
            std=[0.] * 3)
