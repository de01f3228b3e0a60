"""Wide ResNet-38 (Wu, Shen, van den Hengel, "model A1"), output stride 8, as PSA/SEAM/CPN use it.

The network of ``network/resnet38d.py`` in jiwoon-ahn/psa and YudeWang/SEAM, written anew with
our own module names (``tools/model_converters/resnet38.py`` renames the official weights):

=====  ==========================  ==============================  =======  ========
stage  official blocks             block (in -> mid -> out)         stride   dilation
=====  ==========================  ==============================  =======  ========
1      conv1a                      3x3 conv 3 -> 64                 1        1
2      b2, b2_1, b2_2              basic 64/128 -> 128 -> 128       2        1
3      b3, b3_1, b3_2              basic 128/256 -> 256 -> 256      4        1
4      b4, b4_1 ... b4_5           basic 256/512 -> 512 -> 512      8        1
5      b5, b5_1, b5_2              basic 512/1024 -> 512 -> 1024    8        2 (first conv of b5: 1)
6      b6                          bottleneck 1024 -> 512/1024 -> 2048, dropout 0.3   8   4
7      b7, bn7                     bottleneck 2048 -> 1024/2048 -> 4096, dropout 0.5  8   4
=====  ==========================  ==============================  =======  ========

Blocks are pre-activation: ``bn -> relu`` of the block input feeds both the projection
shortcut (when the shape changes) and the residual branch. The official ``forward_as_dict``
returns, as its feature maps, the ``bn -> relu`` of the input of b4 (``conv3``), b5
(``conv4``), b6 (``conv5``) and ``relu(bn7(b7 output))`` (``conv6``). Our ``out_indices`` index
the same kind of map at every stage::

    index  name   channels  stride  taken at
    0      conv1  64        1       bn+relu of the input of b2
    1      conv2  128       2       bn+relu of the input of b3
    2      conv3  256       4       bn+relu of the input of b4   (official conv3)
    3      conv4  512       8       bn+relu of the input of b5   (official conv4)
    4      conv5  1024      8       bn+relu of the input of b6   (official conv5)
    5      conv6  4096      8       relu(bn7(b7 output))         (official conv6)

Spatial sizes follow the official padding: every stride-2 layer maps n -> floor((n - 1) / 2) + 1,
so a 61x75 input gives 61x75, 31x38, 16x19, 8x10, 8x10, 8x10.
"""
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS

STAGE_NAMES = ('conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'conv6')
STAGE_CHANNELS = (64, 128, 256, 512, 1024, 4096)


class BasicBlock38(nn.Module):
    """Pre-activation basic block: ``bn1 -> relu -> conv1 (3x3) -> bn2 -> relu -> conv2 (3x3)``.

    Args:
        in_channels / mid_channels / out_channels: widths of the input, of the first 3x3 conv's
            output and of the block output.
        stride: stride of the first 3x3 conv and of the 1x1 shortcut.
        first_dilation: dilation (= padding) of the first 3x3 conv (None: ``dilation``;
            ResNet-38's b5 uses 1 there and 2 in the second conv).
        dilation: dilation (= padding) of the second 3x3 conv.

    Shapes: (B, in, H, W) -> (B, out, H', W'), H' = floor((H - 1) / stride) + 1.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 first_dilation: Optional[int] = None,
                 dilation: int = 1) -> None:
        super().__init__()
        first_dilation = dilation if first_dilation is None else first_dilation
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(
            in_channels,
            mid_channels,
            3,
            stride,
            padding=first_dilation,
            dilation=first_dilation,
            bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(
            mid_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False)
        # identity shortcut only when nothing changes (the official `same_shape`)
        self.shortcut = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(block output, bn1+relu of the input)``; the latter is a stage feature map."""
        pre = F.relu(self.bn1(x))
        short = x if self.shortcut is None else self.shortcut(pre)
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return short + out, pre


class BottleneckBlock38(nn.Module):
    """Pre-activation bottleneck of b6 / b7 with Dropout2d before the 2nd and 3rd convs.

    ``bn1 -> relu -> conv1 (1x1, out/4) -> bn2 -> relu -> drop -> conv2 (3x3, out/2, dilated)
    -> bn3 -> relu -> drop -> conv3 (1x1, out)``, plus a 1x1 projection shortcut of the
    bn1+relu'd input. The official block ALWAYS projects (its forward calls ``conv_branch1``
    unconditionally; both uses have in != out).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels // 4, 1, stride, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels // 4)
        self.drop2 = nn.Dropout2d(dropout)
        self.conv2 = nn.Conv2d(
            out_channels // 4,
            out_channels // 2,
            3,
            padding=dilation,
            dilation=dilation,
            bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels // 2)
        self.drop3 = nn.Dropout2d(dropout)
        self.conv3 = nn.Conv2d(out_channels // 2, out_channels, 1, bias=False)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.drop2(F.relu(self.bn2(out))))
        out = self.conv3(self.drop3(F.relu(self.bn3(out))))
        return self.shortcut(pre) + out, pre


@MODELS.register_module()
class ResNet38d(BaseModule):
    """Wide ResNet-38 with output stride 8 (PSA / SEAM / CPN backbone).

    Args:
        out_indices: which of (conv1, conv2, conv3, conv4, conv5, conv6) to return (see the
            module docstring); default (3, 4, 5) = the official conv4, conv5, conv6.
        freeze_bn: the official ``Net.train``: every BatchNorm stays in eval mode (running
            statistics frozen) and its affine parameters get ``requires_grad=False``, also
            after ``.train()``.
        frozen_stages: the official ``not_training`` list: ``'seam'`` = conv1a, b2, b2_1, b2_2
            (SEAM / CPN ``resnet38_*.Net``), ``'psa'`` = conv1a only (the base ``resnet38d.Net``),
            ``None`` = nothing.
        dropouts: Dropout2d ratios of b6 and b7 (official 0.3, 0.5).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=...)`` of a state dict converted by
            ``tools/model_converters/resnet38.py``.

    Shapes: (B, 3, H, W) -> tuple of (B, C_i, H_i, W_i) for i in ``out_indices``.
    """

    FROZEN = {'seam': ('conv1a', 'res2'), 'psa': ('conv1a', ), None: ()}

    def __init__(self,
                 out_indices: Sequence[int] = (3, 4, 5),
                 freeze_bn: bool = True,
                 frozen_stages: Optional[str] = 'seam',
                 dropouts: Tuple[float, float] = (0.3, 0.5),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.out_indices = tuple(int(i) % len(STAGE_NAMES) for i in out_indices)
        if frozen_stages not in self.FROZEN:
            raise ValueError(f'frozen_stages must be one of {list(self.FROZEN)}, '
                             f'got {frozen_stages!r}')
        self.freeze_bn = freeze_bn
        self.frozen_stages = frozen_stages
        self.conv1a = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.res2 = nn.ModuleList([
            BasicBlock38(64, 128, 128, stride=2),
            BasicBlock38(128, 128, 128),
            BasicBlock38(128, 128, 128)
        ])
        self.res3 = nn.ModuleList([
            BasicBlock38(128, 256, 256, stride=2),
            BasicBlock38(256, 256, 256),
            BasicBlock38(256, 256, 256)
        ])
        self.res4 = nn.ModuleList([BasicBlock38(256, 512, 512, stride=2)] +
                                  [BasicBlock38(512, 512, 512) for _ in range(5)])
        self.res5 = nn.ModuleList([
            BasicBlock38(512, 512, 1024, first_dilation=1, dilation=2),
            BasicBlock38(1024, 512, 1024, dilation=2),
            BasicBlock38(1024, 512, 1024, dilation=2)
        ])
        self.res6 = BottleneckBlock38(1024, 2048, dilation=4, dropout=dropouts[0])
        self.res7 = BottleneckBlock38(2048, 4096, dilation=4, dropout=dropouts[1])
        self.bn7 = nn.BatchNorm2d(4096)
        self._freeze()

    def _freeze(self) -> None:
        for name in self.FROZEN[self.frozen_stages]:
            for p in getattr(self, name).parameters():
                p.requires_grad = False
        if self.freeze_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.requires_grad = False
                    m.bias.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet38d':
        """As the official ``Net.train``: BN layers go back to eval mode every time."""
        super().train(mode)
        self._freeze()
        if mode and self.freeze_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        maps = []
        x = self.conv1a(x)
        for stage in (self.res2, self.res3, self.res4, self.res5):
            for i, block in enumerate(stage):
                x, pre = block(x)
                if i == 0:  # bn+relu of the stage input = the previous stage's map
                    maps.append(pre)
        x, pre = self.res6(x)
        maps.append(pre)  # conv5
        x, _ = self.res7(x)
        maps.append(F.relu(self.bn7(x)))  # conv6
        return tuple(maps[i] for i in self.out_indices)
