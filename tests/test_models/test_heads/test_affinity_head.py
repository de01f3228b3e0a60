"""AffinityHead (PSA's affinity-feature head)."""
import math

import pytest
import torch

from mmwsss.models.heads.affinity_head import AffinityHead


def test_forward_by_hand():
    head = AffinityHead(in_channels=(2, 3), channels=(1, 1), out_channels=2)
    with torch.no_grad():
        for conv in head.level_convs:
            conv.weight.fill_(1.)
        head.fuse_conv.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
    f0 = torch.full((1, 2, 4, 4), 0.5)  # 1x1 conv sums the channels: 1.0
    f1 = torch.full((1, 3, 2, 2), -1.)  # sum -3 at half resolution
    out = head([f0, f1])
    assert out.shape == (1, 2, 4, 4)
    lvl1 = math.exp(-3) - 1  # ELU(-3), resized (constant)
    assert torch.allclose(out[0, 0], torch.full((4, 4), 1.0))
    assert torch.allclose(out[0, 1], torch.full((4, 4), math.exp(lvl1) - 1))
    # an explicit size wins over the first level's
    assert head([f0, f1], size=(3, 5)).shape == (1, 2, 3, 5)


def test_psa_layout_and_init():
    head = AffinityHead(in_channels=(512, 1024, 4096))
    assert head.out_channels == 448
    assert [c.out_channels for c in head.level_convs] == [64, 128, 256]
    assert all(c.bias is None for c in head.level_convs) and head.fuse_conv.bias is None
    head.init_weights()
    bound = 4 * math.sqrt(6 / (448 + 448))  # xavier_uniform, gain 4
    w = head.fuse_conv.weight
    assert w.abs().max() <= bound and w.std() > bound / 4


def test_level_selection_and_errors():
    head = AffinityHead(in_channels=(4, 8), channels=(2, 2), in_index=(1, 2))
    feats = [torch.rand(1, 3, 8, 8), torch.rand(1, 4, 8, 8), torch.rand(1, 8, 4, 4)]
    assert head(feats).shape == (1, 4, 8, 8)
    # without in_index the last levels are used
    assert AffinityHead(in_channels=(4, 8), channels=(2, 2))(feats).shape == (1, 4, 8, 8)
    with pytest.raises(ValueError, match='channels'):
        AffinityHead(in_channels=(4, 8), channels=(2, 2))(feats[:1] + feats[:1])
    with pytest.raises(ValueError):
        AffinityHead(in_channels=(4, 8), channels=(2, ))
