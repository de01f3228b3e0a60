"""VGG-16 with RCA's / OAA's ``cfg['D1']`` layout, on top of mmpretrain's VGG.

``D1`` (maeve07/RCA ``models/rca.py::make_layers``): the VGG-16 convolutions, pool1-3 as
usual, pool4 replaced by a 3x3 stride-1 max-pool (padding 1), the last three convolutions
with dilation 2 (padding 2), and no pool5: output stride 8, 512 channels.

mmpretrain's ``VGG(depth=16, dilations=(1, 1, 1, 1, 2), with_last_pool=False)`` gives
everything but pool4, which it always builds as a 2x2 stride-2 max-pool; this wrapper only
swaps that one layer. Parameter names stay mmpretrain's (``features.<i>.conv.*``), so
mmpretrain's ImageNet VGG-16 checkpoint loads unchanged (the official code loads
torchvision's, the same weights in another layout).
"""
from mmpretrain.models.backbones import VGG
from torch import nn

from mmwsss.registry import MODELS


@MODELS.register_module()
class VGG16D1(VGG):
    """VGG-16 ``D1``: output stride 8 (see the module doc).

    Args are mmpretrain ``VGG``'s except ``depth`` (16), ``dilations`` (stage 5 = 2) and
    ``with_last_pool`` (False), which ``D1`` fixes. ``out_indices`` defaults to the last
    stage (``(4, )``: one (B, 512, H/8, W/8) map).
    """

    def __init__(self, out_indices=(4, ), **kwargs) -> None:
        for fixed in ('depth', 'dilations', 'with_last_pool', 'num_stages'):
            if fixed in kwargs:
                raise ValueError(f'VGG16D1 fixes {fixed!r} (cfg D1)')
        super().__init__(
            depth=16,
            num_stages=5,
            dilations=(1, 1, 1, 1, 2),
            with_last_pool=False,
            out_indices=out_indices,
            **kwargs)
        # the pool closing stage 4 is the last layer of range_sub_modules[3]
        pool4 = self.range_sub_modules[3][1] - 1
        if not isinstance(self.features[pool4], nn.MaxPool2d):
            raise RuntimeError('unexpected mmpretrain VGG layout: no max-pool after stage 4')
        self.features[pool4] = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
