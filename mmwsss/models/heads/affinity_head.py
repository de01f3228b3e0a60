"""AffinityNet's (PSA) affinity-feature head on multi-level backbone features."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS


@MODELS.register_module()
class AffinityHead(BaseModule):
    """Affinity features: per-level 1x1 conv (no bias) + ELU, resized to one
    size and concatenated, then a 1x1 conv (no bias) + ELU.

    PSA (``network/resnet38_aff.py``) uses ResNet-38 conv4/conv5/conv6
    (512/1024/4096 channels, all at stride 8) -> 64/128/256 -> 448 -> 448.
    Here any backbone's levels work; levels at other strides are resized
    (bilinear, align_corners=False) to ``size`` or to the first level.

    Args:
        in_channels: channels of the selected backbone levels.
        channels: output channels of each level's 1x1 conv (64, 128, 256).
        out_channels: channels of the final 1x1 conv (448 = sum of channels).
        in_index: which backbone outputs to use (default: all, in order).
        align_corners: for the resize.
        init_cfg: default follows PSA: kaiming-normal level convs, xavier
            uniform (gain 4) final conv.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024, 2048),
                 channels: Sequence[int] = (64, 128, 256),
                 out_channels: Optional[int] = None,
                 in_index: Optional[Sequence[int]] = None,
                 align_corners: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        if len(in_channels) != len(channels):
            raise ValueError(f'AffinityHead: {len(in_channels)} in_channels but '
                             f'{len(channels)} channels')
        if in_index is not None and len(in_index) != len(in_channels):
            raise ValueError('AffinityHead: in_index and in_channels differ in length')
        self.in_channels = tuple(in_channels)
        self.in_index = tuple(in_index) if in_index is not None else None
        self.out_channels = out_channels or sum(channels)
        self.align_corners = align_corners
        self.level_convs = nn.ModuleList(
            [nn.Conv2d(c, o, 1, bias=False) for c, o in zip(in_channels, channels)])
        self.fuse_conv = nn.Conv2d(sum(channels), self.out_channels, 1, bias=False)

    def init_weights(self) -> None:
        if self.init_cfg is not None:
            return super().init_weights()
        for conv in self.level_convs:
            nn.init.kaiming_normal_(conv.weight)
        nn.init.xavier_uniform_(self.fuse_conv.weight, gain=4)

    def _select(self, feats: Sequence[Tensor]) -> List[Tensor]:
        feats = list(feats)
        if self.in_index is not None:
            feats = [feats[i] for i in self.in_index]
        elif len(feats) != len(self.in_channels):
            # use the last levels when the backbone returns more than needed
            feats = feats[len(feats) - len(self.in_channels):]
        for f, c in zip(feats, self.in_channels):
            if f.shape[1] != c:
                raise ValueError(f'AffinityHead expected {self.in_channels} input '
                                 f'channels, got {[x.shape[1] for x in feats]}')
        return feats

    def forward(self, feats: Sequence[Tensor], size: Optional[Tuple[int, int]] = None) -> Tensor:
        """(levels of (B, C_i, H_i, W_i)) -> (B, out_channels, h, w) features.

        ``size`` defaults to the first selected level's size.
        """
        feats = self._select(feats)
        size = tuple(size) if size is not None else tuple(feats[0].shape[-2:])
        outs = []
        for conv, f in zip(self.level_convs, feats):
            x = F.elu(conv(f))
            if tuple(x.shape[-2:]) != size:
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=self.align_corners)
            outs.append(x)
        return F.elu(self.fuse_conv(torch.cat(outs, 1)))
