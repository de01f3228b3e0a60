"""ResNet38d: stage shapes / strides, frozen BN and stages, the official-weight converter."""
import importlib.util
import os.path as osp
import struct

import numpy as np
import pytest
import torch
from torch import nn

from mmwsss.models.backbones import ResNet38d

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _converter():
    path = osp.join(REPO, 'tools', 'model_converters', 'resnet38.py')
    spec = importlib.util.spec_from_file_location('resnet38_converter', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return ResNet38d(out_indices=(0, 1, 2, 3, 4, 5))


def test_shapes_and_strides_odd_size(model):
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 61, 75))
    # stride-2 layers: n -> floor((n - 1) / 2) + 1 : 61 -> 31 -> 16 -> 8, 75 -> 38 -> 19 -> 10
    expected = [(64, 61, 75), (128, 31, 38), (256, 16, 19), (512, 8, 10), (1024, 8, 10),
                (4096, 8, 10)]
    assert [tuple(o.shape[1:]) for o in outs] == expected
    # every map is a bn+relu output: non-negative
    assert all((o >= 0).all() for o in outs)


def test_default_out_indices():
    m = ResNet38d()
    assert m.out_indices == (3, 4, 5)


def test_frozen_bn_and_stages_stay_frozen_after_train(model):
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 2 * 15 + 3 * 2 + 1  # 15 basic blocks, 2 bottlenecks, bn7
    assert all(not bn.training for bn in bns)
    assert all(not p.requires_grad for bn in bns for p in bn.parameters())
    assert not model.conv1a.weight.requires_grad
    assert all(not p.requires_grad for p in model.res2.parameters())
    assert model.res3[0].conv1.weight.requires_grad
    # dropout layers still train (the official Net only puts BN in eval mode)
    assert model.res7.drop3.training
    # running stats do not move in a training forward
    mean = model.res3[0].bn1.running_mean.clone()
    model(torch.randn(1, 3, 24, 24))
    assert torch.equal(mean, model.res3[0].bn1.running_mean)


def test_psa_freezing_and_trainable_bn():
    m = ResNet38d(freeze_bn=False, frozen_stages='psa').train()
    assert m.res2[0].bn1.training and m.res2[0].bn1.weight.requires_grad
    assert not m.conv1a.weight.requires_grad and m.res2[0].conv1.weight.requires_grad


def _official_layout():
    """Key -> shape of the official resnet38d.Net state dict, built from its block list."""
    keys = {'conv1a.weight': (64, 3, 3, 3)}

    def bn(prefix, c):
        for p in ('weight', 'bias', 'running_mean', 'running_var'):
            keys[f'{prefix}.{p}'] = (c, )

    basic = [('b2', 64, 128, 128), ('b2_1', 128, 128, 128), ('b2_2', 128, 128, 128),
             ('b3', 128, 256, 256), ('b3_1', 256, 256, 256), ('b3_2', 256, 256, 256),
             ('b4', 256, 512, 512)] + [(f'b4_{i}', 512, 512, 512) for i in range(1, 6)] + \
        [('b5', 512, 512, 1024), ('b5_1', 1024, 512, 1024), ('b5_2', 1024, 512, 1024)]
    for name, cin, mid, cout in basic:
        bn(f'{name}.bn_branch2a', cin)
        keys[f'{name}.conv_branch2a.weight'] = (mid, cin, 3, 3)
        bn(f'{name}.bn_branch2b1', mid)
        keys[f'{name}.conv_branch2b1.weight'] = (cout, mid, 3, 3)
        if cin != cout or name in ('b2', 'b3', 'b4'):
            keys[f'{name}.conv_branch1.weight'] = (cout, cin, 1, 1)
    for name, cin, cout in (('b6', 1024, 2048), ('b7', 2048, 4096)):
        bn(f'{name}.bn_branch2a', cin)
        keys[f'{name}.conv_branch2a.weight'] = (cout // 4, cin, 1, 1)
        bn(f'{name}.bn_branch2b1', cout // 4)
        keys[f'{name}.conv_branch2b1.weight'] = (cout // 2, cout // 4, 3, 3)
        bn(f'{name}.bn_branch2b2', cout // 2)
        keys[f'{name}.conv_branch2b2.weight'] = (cout, cout // 2, 1, 1)
        keys[f'{name}.conv_branch1.weight'] = (cout, cin, 1, 1)
    bn('bn7', 4096)
    return keys


def test_converter_round_trip_pytorch(model):
    conv = _converter()
    g = torch.Generator().manual_seed(1)
    official = {k: torch.rand(s, generator=g) for k, s in _official_layout().items()}
    wrapped = {'module.' + k: v for k, v in official.items()}
    wrapped['module.fc8.weight'] = torch.zeros(21, 4096, 1, 1)  # a method layer: dropped
    state, dropped = conv.convert_state_dict(wrapped)
    assert dropped == ['module.fc8.weight']
    # strict load: every key of ours is produced, nothing extra
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.res4[5].conv2.weight, official['b4_5.conv_branch2b1.weight'])
    assert torch.equal(model.res2[0].shortcut.weight, official['b2.conv_branch1.weight'])
    assert torch.equal(model.res7.bn3.running_var, official['b7.bn_branch2b2.running_var'])
    assert torch.equal(model.bn7.weight, official['bn7.weight'])
    assert model.res5[1].shortcut is None  # b5_1: same shape, identity as the official


def _write_mxnet(path, arrays, version):
    """A named NDArray list in MXNet's format (legacy: uint32 dims; V2: int64 dims)."""
    buf = [struct.pack('<QQ', 0x112, 0), struct.pack('<Q', len(arrays))]
    for arr in arrays.values():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if version == 'v2':
            buf.append(struct.pack('<Ii', 0xF993FAC9, 0))
            buf.append(struct.pack('<I', arr.ndim) + struct.pack(f'<{arr.ndim}q', *arr.shape))
        else:
            buf.append(struct.pack('<I', arr.ndim) + struct.pack(f'<{arr.ndim}I', *arr.shape))
        buf.append(struct.pack('<iii', 1, 0, 0))  # cpu(0), float32
        buf.append(arr.tobytes())
    buf.append(struct.pack('<Q', len(arrays)))
    for name in arrays:
        raw = name.encode()
        buf.append(struct.pack('<Q', len(raw)) + raw)
    with open(path, 'wb') as f:
        f.write(b''.join(buf))


@pytest.mark.parametrize('version', ['legacy', 'v2'])
def test_converter_mxnet_params(tmp_path, version):
    conv = _converter()
    rng = np.random.default_rng(0)
    arrays = {
        'arg:conv1a_weight': rng.random((64, 3, 3, 3)),
        'arg:res4b5_branch2b1_weight': rng.random((512, 512, 3, 3)),
        'arg:res2a_branch1_weight': rng.random((128, 64, 1, 1)),
        'arg:bn6a_branch2b2_gamma': rng.random((1024, )),
        'aux:bn6a_branch2b2_moving_var': rng.random((1024, )),
        'aux:bn7_moving_mean': rng.random((4096, )),
        'arg:linear1000_weight': rng.random((1000, 4096)),
    }
    path = str(tmp_path / 'w.params')
    _write_mxnet(path, arrays, version)
    state, dropped = conv.convert_mxnet(path)
    assert dropped == ['arg:linear1000_weight']
    pairs = {
        'conv1a.weight': 'arg:conv1a_weight',
        'res4.5.conv2.weight': 'arg:res4b5_branch2b1_weight',
        'res2.0.shortcut.weight': 'arg:res2a_branch1_weight',
        'res6.bn3.weight': 'arg:bn6a_branch2b2_gamma',
        'res6.bn3.running_var': 'aux:bn6a_branch2b2_moving_var',
        'bn7.running_mean': 'aux:bn7_moving_mean',
    }
    for ours, mx in pairs.items():
        np.testing.assert_array_equal(state[ours].numpy(), arrays[mx].astype(np.float32))
    assert conv.mxnet_name_to_official('res3b2_branch2a_weight') == 'b3_2.conv_branch2a.weight'
    assert conv.official_to_ours('b3_2.conv_branch2a.weight') == 'res3.2.conv1.weight'
