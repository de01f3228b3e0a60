"""LargeFOVHead: ToCo's LargeFOV decoder as an mmseg decode head."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmwsss.models.heads.largefov_head import LargeFOVHead
from mmwsss.registry import MODELS


def test_output_size_on_a_non_multiple_input():
    head = LargeFOVHead(in_channels=384, num_classes=21)
    x = torch.randn(2, 384, 13, 17)
    # 3x3 convs with dilation 5 and padding 5: 13 + 2*5 - 5*(3-1) = 13, same for 17
    out = head([x])
    assert out.shape == (2, 21, 13, 17)
    assert head(x).shape == (2, 21, 13, 17)  # a bare tensor works too


def test_structure_matches_toco():
    head = LargeFOVHead(in_channels=768, num_classes=21)
    for conv, (cin, cout, k) in zip((head.conv6, head.conv7, head.conv_seg),
                                    ((768, 512, 3), (512, 512, 3), (512, 21, 1))):
        assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (cin, cout, (k, k))
        assert conv.bias is None  # the official convs have no bias
    assert head.conv6.dilation == (5, 5) and head.conv6.padding == (5, 5)
    assert head.conv7.dilation == (5, 5) and head.conv7.padding == (5, 5)
    assert head.dropout is None
    assert LargeFOVHead(in_channels=8, channels=4, num_classes=3, bias=True).conv6.bias is not None


def test_dilated_taps_and_relu_by_hand():
    head = LargeFOVHead(in_channels=1, channels=1, num_classes=3)
    with torch.no_grad():
        head.conv6.weight.zero_()
        head.conv6.weight[0, 0, 0, 0] = 1.  # top-left tap: offset (-5, -5) with dilation 5
        head.conv7.weight.zero_()
        head.conv7.weight[0, 0, 1, 1] = 1.  # centre tap: identity
        head.conv_seg.weight.copy_(torch.tensor([1., -1., 2.]).view(3, 1, 1, 1))
    x = torch.zeros(1, 1, 13, 17)
    x[0, 0, 6, 7] = 3.
    x[0, 0, 2, 2] = -4.
    out = head(x)
    # conv6: out[y, x] = in[y - 5, x - 5] -> 3 lands at (11, 12), -4 at (7, 7); ReLU drops -4
    # conv7 identity, conv_seg: class logits (1, -1, 2) * 3 = (3, -3, 6) at (11, 12), 0 elsewhere
    expected = torch.zeros(1, 3, 13, 17)
    expected[0, :, 11, 12] = torch.tensor([3., -3., 6.])
    assert torch.equal(out, expected)


def test_default_init_is_pytorch_default():
    # ToCo never calls its kaiming init: init_weights() must leave the weights as built
    torch.manual_seed(0)
    head = LargeFOVHead(in_channels=16, channels=8, num_classes=4)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    head.init_weights()
    assert all(torch.equal(before[k], v) for k, v in head.state_dict().items())
    # PyTorch's conv default: U(-1/sqrt(fan_in), +) with fan_in = 16 * 9 -> bound 1/12
    assert head.conv6.weight.abs().max().item() <= 1 / 12


def test_kaiming_init_cfg():
    torch.manual_seed(0)
    head = LargeFOVHead(
        in_channels=64,
        channels=256,
        num_classes=4,
        init_cfg=dict(
            type='Kaiming',
            mode='fan_out',
            nonlinearity='relu',
            distribution='normal',
            layer='Conv2d'))
    head.init_weights()
    # kaiming normal, fan_out = 256 * 9: std = sqrt(2 / 2304) = .02946
    assert head.conv6.weight.std().item() == pytest.approx(math.sqrt(2 / 2304), rel=0.03)


def test_mmseg_loss_and_predict():
    init_default_scope('mmwsss')
    head = MODELS.build(
        dict(
            type='LargeFOVHead',
            in_channels=8,
            channels=16,
            num_classes=3,
            loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)))
    feats = [torch.randn(2, 8, 4, 5)]
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 16, 20)))
        s.set_metainfo(dict(img_shape=(16, 20), pad_shape=(16, 20)))
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg=dict())
    assert set(losses) >= {'loss_ce', 'acc_seg'}
    assert torch.isfinite(losses['loss_ce'])
    pred = head.predict(feats, [s.metainfo for s in samples], test_cfg=dict())
    assert pred.shape == (2, 3, 16, 20)  # resized to img_shape


def test_checks():
    with pytest.raises(ValueError):
        LargeFOVHead(in_channels=8, num_classes=3, norm_cfg=dict(type='BN'))
    assert isinstance(LargeFOVHead(in_channels=8, channels=4, num_classes=3).conv_seg, nn.Conv2d)
