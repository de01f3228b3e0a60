import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmwsss.models.backbones import EfficientNetLite
from mmwsss.models.backbones.efficientnet_lite import lite_stage_settings, round_channels
from mmwsss.registry import MODELS


def _blocks_per_stage(model):
    return [len(model.layers[i]) for i in range(1, 8)]


def test_registered_and_lite0_layout():
    model = MODELS.build(dict(type='EfficientNetLite', out_indices=tuple(range(9))))
    assert isinstance(model, EfficientNetLite)
    assert model.out_channels == (32, 16, 24, 40, 80, 112, 192, 320, 1280)
    assert _blocks_per_stage(model) == [1, 2, 2, 3, 3, 4, 1]
    # Lite: no squeeze-excitation, ReLU6 everywhere, stage1 has no expansion conv
    # convs by hand: stem 1 + stage1 block (dw, project) 2 + 15 blocks x 3 + head 1 = 49;
    # squeeze-excitation would add two 1x1 convs per block
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 49
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    assert model.layers[1][0].expand_conv is None
    assert isinstance(model.layers[2][0].depthwise_conv.activate, torch.nn.ReLU6)
    # depthwise kernels per stage: 3, 3, 5, 3, 5, 5, 3
    kernels = [model.layers[i][0].depthwise_conv.conv.kernel_size[0] for i in range(1, 8)]
    assert kernels == [3, 3, 5, 3, 5, 5, 3]

    model.eval()
    outs = model(torch.rand(2, 3, 224, 224))
    sizes = [112, 112, 56, 28, 14, 14, 7, 7, 7]
    assert [tuple(o.shape) for o in outs] == [(2, c, s, s)
                                              for c, s in zip(model.out_channels, sizes)]


def test_default_out_index_is_head_conv():
    model = EfficientNetLite().eval()
    outs = model(torch.rand(1, 3, 64, 96))
    assert len(outs) == 1 and outs[0].shape == (1, 1280, 2, 3)
    # ReLU6 output range
    assert outs[0].min() >= 0 and outs[0].max() <= 6


@pytest.mark.parametrize('arch,channels,repeats', [
    ('lite1', (16, 24, 40, 80, 112, 192, 320), (1, 3, 3, 4, 4, 5, 1)),
    ('lite2', (16, 24, 48, 88, 120, 208, 352), (1, 3, 3, 4, 4, 5, 1)),
    ('lite3', (24, 32, 48, 96, 136, 232, 384), (1, 3, 3, 5, 5, 6, 1)),
    ('lite4', (24, 32, 56, 112, 160, 272, 448), (1, 4, 4, 6, 6, 8, 1)),
])
def test_scaled_variants(arch, channels, repeats):
    # worked by hand: e.g. lite4 112*1.4=156.8 -> int(160.8)//8*8 = 160; depth
    # ceil(1.8*4) = 8, first and last stages unscaled; stem 32 and head 1280 fixed
    settings = lite_stage_settings(arch)
    assert tuple(s[5] for s in settings) == channels
    assert tuple(s[0] for s in settings) == repeats
    assert settings[0][4] == 32
    model = EfficientNetLite(arch=arch, out_indices=(0, 8))
    assert model.out_channels == (32, ) + channels + (1280, )
    assert model.layers[8].conv.in_channels == channels[-1]


def test_round_channels_rule():
    assert round_channels(40, 1.1) == 48  # 44 -> int(48)//8*8
    assert round_channels(16, 1.2) == 24  # 19.2 -> int(23.2)//8*8 = 16 < 0.9*19.2 -> 24
    assert round_channels(320, 1.0) == 320


def test_tf_same_padding_is_bottom_right():
    """Stride-2 3x3 conv on an even input: TF pads only bottom/right, PyTorch both sides."""
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4).repeat(1, 3, 1, 1) / 4
    outs = {}
    for tf_padding in (True, False):
        model = EfficientNetLite(out_indices=(0, ), tf_padding=tf_padding, init_cfg=None)
        stem = model.layers[0]
        with torch.no_grad():
            stem.conv.weight.zero_()
            stem.conv.weight[0, 0, 0, 0] = 1.  # channel 0 = top-left tap of the window
        stem.bn.reset_parameters()
        stem.bn.running_var.fill_(1. - stem.bn.eps)  # eval-mode BN is exactly identity
        outs[tf_padding] = model.eval()(x)[0][0, 0]
    # x/4 = [[0, .25, .5, .75], [1, ...]]; TF windows start at rows/cols 0 and 2
    assert torch.allclose(outs[True], torch.tensor([[0., .5], [2., 2.5]]))
    # symmetric padding shifts the windows up-left by one: taps at -1 (zero) and 1
    assert torch.allclose(outs[False], torch.tensor([[0., 0.], [0., 1.25]]))


@pytest.mark.parametrize('output_stride,strides,dilations,size', [
    (32, (1, 2, 2, 2, 1, 2, 1), (1, 1, 1, 1, 1, 1, 1), 5),
    (16, (1, 2, 2, 2, 1, 1, 1), (1, 1, 1, 1, 1, 2, 2), 10),
    (8, (1, 2, 2, 1, 1, 1, 1), (1, 1, 1, 2, 2, 4, 4), 20),
])
def test_output_stride(output_stride, strides, dilations, size):
    model = EfficientNetLite(output_stride=output_stride, out_indices=(4, 8))
    assert model.strides == strides and model.dilations == dilations
    assert model.layers[6][0].depthwise_conv.conv.dilation == (dilations[5], ) * 2
    assert model.layers[6][0].depthwise_conv.conv.stride == (strides[5], ) * 2
    outs = model.eval()(torch.rand(1, 3, 160, 160))
    assert outs[1].shape == (1, 1280, size, size)


def test_explicit_strides_and_dilations():
    model = EfficientNetLite(
        strides=(1, 2, 2, 2, 1, 1, 1), dilations=(1, 1, 1, 1, 1, 2, 2), out_indices=(8, ))
    assert model.eval()(torch.rand(1, 3, 64, 64))[0].shape == (1, 1280, 4, 4)
    with pytest.raises(ValueError, match='either output_stride'):
        EfficientNetLite(output_stride=16, strides=(1, 2, 2, 2, 1, 1, 1))
    with pytest.raises(ValueError, match='7 entries'):
        EfficientNetLite(strides=(1, 2, 2))
    with pytest.raises(ValueError, match='output_stride'):
        EfficientNetLite(output_stride=12)


def test_out_indices_negative_and_invalid():
    model = EfficientNetLite(out_indices=(-1, 2))
    assert model.out_indices == (8, 2)
    outs = model.eval()(torch.rand(1, 3, 32, 32))
    assert outs[0].shape[1] == 1280 and outs[1].shape[1] == 24
    with pytest.raises(ValueError, match='out_indices'):
        EfficientNetLite(out_indices=(9, ))
    with pytest.raises(ValueError, match='Unknown EfficientNet-Lite arch'):
        EfficientNetLite(arch='b0')


def test_frozen_stages_and_norm_eval():
    model = EfficientNetLite(frozen_stages=2, out_indices=(3, ))
    model.train()
    for i in range(3):
        assert not model.layers[i].training
        assert all(not p.requires_grad for p in model.layers[i].parameters())
    assert model.layers[3].training
    assert all(p.requires_grad for p in model.layers[3].parameters())
    # frozen BN statistics do not move during a training forward
    before = model.layers[0].bn.running_mean.clone()
    model(torch.rand(2, 3, 32, 32))
    assert torch.equal(before, model.layers[0].bn.running_mean)

    model = EfficientNetLite(norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert model.layers[4].training  # only the norms are switched to eval
    with pytest.raises(ValueError, match='frozen_stages'):
        EfficientNetLite(frozen_stages=9)


def test_residual_only_when_shape_kept():
    model = EfficientNetLite()
    # first block of every stage changes channels or stride; later blocks are residual
    for i in range(1, 8):
        flags = [b.with_residual for b in model.layers[i]]
        assert flags == [False] + [True] * (len(flags) - 1)
