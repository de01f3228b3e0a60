"""CTCHead: ToCo's DINO-style projection head."""
import math
import warnings

import pytest
import torch
import torch.nn as nn

from mmwsss.models.heads.ctc_head import CTCHead


def test_shapes_and_structure():
    head = CTCHead(in_dim=768)
    out = head(torch.randn(5, 768))
    assert out.shape == (5, 1024)
    kinds = [type(m) for m in head.mlp]
    assert kinds == [nn.Linear, nn.GELU, nn.Linear, nn.GELU, nn.Linear]
    assert [(m.in_features, m.out_features) for m in head.mlp
            if isinstance(m, nn.Linear)] == [(768, 2048), (2048, 2048), (2048, 256)]
    assert head.last_layer.weight_v.shape == (1024, 256)
    assert head.last_layer.weight_g.shape == (1024, 1)
    # weight-normed rows of norm 1 against an L2-normalised input: every output is a cosine
    assert out.abs().max().item() <= 1 + 1e-6


def test_init_follows_toco():
    torch.manual_seed(0)
    head = CTCHead(in_dim=768)
    lins = [m for m in head.mlp if isinstance(m, nn.Linear)]
    w = torch.cat([m.weight.flatten() for m in lins])
    # trunc_normal_(std=.02) with torch's absolute cut-offs +-2 (100 std): a plain N(0, .02^2)
    assert w.std().item() == pytest.approx(0.02, rel=0.02)
    assert all(torch.all(m.bias == 0) for m in lins)
    # the last layer keeps nn.Linear's default: U(-1/sqrt(256), 1/sqrt(256)) = U(-.0625, .0625),
    # std = .0625 / sqrt(3) = .0361 (not .02)
    v = head.last_layer.weight_v
    assert v.abs().max().item() <= 0.0625
    assert v.std().item() == pytest.approx(0.0625 / math.sqrt(3), rel=0.05)
    assert torch.all(head.last_layer.weight_g == 1)
    assert not head.last_layer.weight_g.requires_grad
    assert CTCHead(in_dim=8, norm_last_layer=False).last_layer.weight_g.requires_grad


def test_forward_by_hand():
    # nlayers = 1: mlp = Linear(2, 2) set to the identity
    head = CTCHead(in_dim=2, out_dim=3, nlayers=1, bottleneck_dim=2)
    with torch.no_grad():
        head.mlp.weight.copy_(torch.eye(2))
        head.mlp.bias.zero_()
        head.last_layer.weight_v.copy_(torch.tensor([[1., 0.], [0., 2.], [1., 1.]]))
    # x = (3, 4) -> normalised (.6, .8); rows of v normalised: (1, 0), (0, 1), (1, 1)/sqrt 2
    # outputs: .6, .8, (.6 + .8) / sqrt 2 = .989949
    out = head(torch.tensor([[3., 4.]]))
    assert out[0].tolist() == pytest.approx([0.6, 0.8, 1.4 / math.sqrt(2)], abs=1e-6)
    # with g trainable and set to 2 every output doubles
    head = CTCHead(in_dim=2, out_dim=3, nlayers=1, bottleneck_dim=2, norm_last_layer=False)
    with torch.no_grad():
        head.mlp.weight.copy_(torch.eye(2))
        head.mlp.bias.zero_()
        head.last_layer.weight_v.copy_(torch.tensor([[1., 0.], [0., 2.], [1., 1.]]))
        head.last_layer.weight_g.fill_(2)
    out = head(torch.tensor([[3., 4.]]))
    assert out[0].tolist() == pytest.approx([1.2, 1.6, 2.8 / math.sqrt(2)], abs=1e-6)


def test_same_parameters_as_torch_weight_norm():
    # the state dict keys/shapes equal nn.utils.weight_norm(nn.Linear(...)), so a ToCo
    # checkpoint loads, and the forward equals torch's weight norm on the same tensors
    head = CTCHead(in_dim=16, out_dim=12, hidden_dim=32, bottleneck_dim=8)
    keys = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert keys == {
        'mlp.0.weight': (32, 16),
        'mlp.0.bias': (32, ),
        'mlp.2.weight': (32, 32),
        'mlp.2.bias': (32, ),
        'mlp.4.weight': (8, 32),
        'mlp.4.bias': (8, ),
        'last_layer.weight_g': (12, 1),
        'last_layer.weight_v': (12, 8)
    }
    if not hasattr(nn.utils, 'weight_norm'):
        pytest.skip('torch without nn.utils.weight_norm')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the deprecated API's FutureWarning
        ref = nn.utils.weight_norm(nn.Linear(8, 12, bias=False))
    assert {
        k: tuple(v.shape)
        for k, v in ref.state_dict().items()
    } == {
        'weight_g': (12, 1),
        'weight_v': (12, 8)
    }
    with torch.no_grad():
        ref.weight_g.uniform_(0.5, 2.)
    head.last_layer.load_state_dict(ref.state_dict())
    x = torch.randn(4, 8)
    assert torch.allclose(head.last_layer(x), ref(x), atol=1e-6)


def test_gradients_skip_the_frozen_magnitude():
    head = CTCHead(in_dim=8, out_dim=6, hidden_dim=16, bottleneck_dim=4)
    head(torch.randn(3, 8)).sum().backward()
    assert head.last_layer.weight_g.grad is None
    assert head.last_layer.weight_v.grad is not None
    assert head.mlp[0].weight.grad is not None


def test_registered():
    from mmengine.registry import init_default_scope

    from mmwsss.registry import MODELS
    init_default_scope('mmwsss')
    head = MODELS.build(dict(type='CTCHead', in_dim=8, out_dim=6, hidden_dim=16, bottleneck_dim=4))
    assert isinstance(head, CTCHead)
