"""IRNHead: boundary and displacement branches."""
import pytest
import torch

from mmwsss.models.heads.irn_head import IRNHead, dp_groups


def _feats(requires_grad=False):
    g = torch.Generator().manual_seed(0)
    shapes = [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 4, 4)]  # strides 4, 8, 16, 16
    return [torch.rand(2, *s, generator=g).requires_grad_(requires_grad) for s in shapes]


def _head(**kwargs):
    return IRNHead(in_channels=(8, 16, 32, 64), dp_mid=16, dp_channels=(8, 16, 16, 16), **kwargs)


def test_shapes_and_detach():
    feats = _feats(requires_grad=True)
    edge, dp = _head()(feats)
    assert edge.shape == (2, 1, 16, 16) and dp.shape == (2, 2, 16, 16)
    (edge.sum() + dp.sum()).backward()
    assert all(f.grad is None for f in feats)  # IRN trains the heads only
    feats = _feats(requires_grad=True)
    edge, _ = _head(detach=False)(feats)
    edge.sum().backward()
    assert feats[0].grad is not None


def test_edge_logits_by_hand():
    head = _head(with_dp=False)
    with torch.no_grad():
        head.edge_out.weight.zero_()
        head.edge_out.bias.fill_(-2.)
    edge, dp = head(_feats())
    assert dp is None
    assert torch.all(edge == -2.)


def test_irn_layout_and_groups():
    head = IRNHead(in_channels=(64, 256, 512, 1024, 2048), num_shallow=2)
    # IRN: 32 edge channels per level -> 160 -> 1 logit
    assert head.edge_out.in_channels == 160
    assert [b.conv.out_channels for b in head.dp_branches] == [64, 128, 256, 256, 256]
    assert [b.gn.num_groups for b in head.dp_branches] == [8, 16, 16, 16, 16]
    assert [b.gn.num_groups for b in head.edge_branches] == [4] * 5
    assert head.dp_fuse_deep.conv.in_channels == 768
    assert head.dp_fuse.conv.in_channels == 448
    assert head.dp_out.bias is None
    assert dp_groups(64) == 8 and dp_groups(12) == 1


def test_mean_shift_in_eval():
    head = _head()
    feats = _feats()
    head.mean_shift.running_mean.copy_(torch.tensor([1., 2.]))
    _, dp_train = head(feats)
    head.eval()
    _, dp_eval = head(feats)
    # GroupNorm has no running stats, so only the shift differs
    assert torch.allclose(
        dp_train - dp_eval, torch.tensor([1., 2.]).view(1, 2, 1, 1).expand_as(dp_eval), atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match='channels'):
        _head()([torch.rand(1, 9, 4, 4)] + _feats()[1:])
    with pytest.raises(ValueError, match='num_shallow'):
        IRNHead(in_channels=(8, 16), num_shallow=2)
