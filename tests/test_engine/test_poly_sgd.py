"""PolySGD: the PSA-family PolyOptimizer quirk (weight decay passed as momentum)."""
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

from mmwsss.engine import PolySGD
from mmwsss.registry import OPTIMIZERS


def _params():
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    b = nn.Parameter(torch.tensor([0.5]))
    return w, b


def test_intent_is_plain_sgd():
    w, b = _params()
    opt = OPTIMIZERS.build(dict(type='PolySGD', params=[w, b], lr=0.1, weight_decay=5e-4))
    assert type(opt) is PolySGD and not opt.momentum_quirk
    assert opt.param_groups[0]['momentum'] == 0.9
    assert opt.param_groups[0]['weight_decay'] == 5e-4


def test_quirk_moves_weight_decay_into_momentum():
    w, b = _params()
    opt = OPTIMIZERS.build(
        dict(
            type='PolySGD',
            params=[dict(params=[w], weight_decay=5e-4),
                    dict(params=[b])],
            lr=0.1,
            weight_decay=5e-4,
            momentum_quirk=True))
    g0, g1 = opt.param_groups
    assert g0['momentum'] == g1['momentum'] == 5e-4
    # only the group that carries its own weight decay decays (SEAM's weights);
    # a group without one (ACR's model.parameters()) gets none
    assert g0['weight_decay'] == 5e-4 and g1['weight_decay'] == 0.0


def test_quirk_steps_like_sgd_with_swapped_arguments():
    """Two steps against torch.optim.SGD(params, lr, 5e-4): the official call."""
    w1, _ = _params()
    w2, _ = _params()
    ours = OPTIMIZERS.build(
        dict(type='PolySGD', params=[w1], lr=0.1, weight_decay=5e-4, momentum_quirk=True))
    official = torch.optim.SGD([w2], 0.1, 5e-4)  # positional: momentum = 5e-4
    for _ in range(2):
        for p, opt in ((w1, ours), (w2, official)):
            opt.zero_grad()
            (p**2).sum().backward()
            opt.step()
    assert torch.equal(w1, w2)
    # by hand: g = 2w; step 1: w - 0.1*2w = 0.8w; step 2: buf = 5e-4*2w0 + 2*0.8w0
    w0 = torch.tensor([1.0, -2.0])
    buf = 5e-4 * 2 * w0 + 2 * 0.8 * w0
    assert torch.allclose(w1.detach(), 0.8 * w0 - 0.1 * buf)


def test_built_by_an_mmengine_optim_wrapper_with_paramwise_groups():
    init_default_scope('mmwsss')
    model = nn.Conv2d(3, 4, 1)
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='PolySGD', lr=0.01, weight_decay=5e-4, momentum_quirk=True),
            paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0)))
    groups = {g['lr']: g for g in wrapper.optimizer.param_groups}
    assert groups[0.02]['weight_decay'] == 0.0  # bias: x2 lr, no decay (SEAM's groups)
    assert all(g['momentum'] == 5e-4 for g in wrapper.optimizer.param_groups)
