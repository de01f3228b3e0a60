"""VGG-16 D1 (RCA / OAA): pool4 3x3 stride 1, dilation 2 in the last three convs, OS 8."""
import pytest
import torch
from torch import nn

from mmwsss.models.backbones.vgg_d1 import VGG16D1


def test_layout_and_output_stride():
    m = VGG16D1()
    assert isinstance(m.features[13], nn.MaxPool2d) and m.features[13].stride == 1
    assert m.features[13].kernel_size == 3 and m.features[13].padding == 1
    for i in (14, 15, 16):
        assert m.features[i].conv.dilation == (2, 2) and m.features[i].conv.padding == (2, 2)
    assert len(m.features) == 17  # no pool5
    out = m(torch.randn(1, 3, 69, 75))
    # 69 -> 34 -> 17 -> 8 (three 2x2 pools, floor), 75 -> 37 -> 18 -> 9
    assert len(out) == 1 and out[0].shape == (1, 512, 8, 9)
    assert 'features.0.conv.weight' in m.state_dict()  # mmpretrain names (its checkpoint)


def test_fixed_arguments():
    with pytest.raises(ValueError, match='depth'):
        VGG16D1(depth=11)
