"""IRN's class-boundary and displacement-field heads (``net/resnet50_irn.py``)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS


class GNBranch(nn.Module):
    """1x1 conv (no bias) -> GroupNorm -> [resize] -> ReLU, IRN's head block.

    IRN upsamples between the GroupNorm and the ReLU; the resize here goes to
    an explicit size (bilinear, align_corners=False) instead of a fixed scale
    factor followed by a crop.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.gn = nn.GroupNorm(groups, out_channels)

    def forward(self, x: Tensor, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = self.gn(self.conv(x))
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return F.relu(x)


def dp_groups(channels: int) -> int:
    """GroupNorm groups of the displacement branch: IRN uses 8 for 64
    channels and 16 for 128 / 256, i.e. min(16, channels // 8)."""
    return max(1, min(16, channels // 8)) if channels % 8 == 0 else 1


class MeanShift(nn.Module):
    """IRN's ``Net.MeanShift``: subtracts a stored mean displacement at test
    time (the buffer stays 0 in the official code, so it is an identity)."""

    def __init__(self, num_features: int = 2) -> None:
        super().__init__()
        self.register_buffer('running_mean', torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return x
        return x - self.running_mean.view(1, -1, 1, 1)


@MODELS.register_module()
class IRNHead(BaseModule):
    """Boundary (edge) and displacement heads on detached multi-level features.

    Edge branch: every level -> GNBranch(edge_channels, GN groups 4), resized
    to the first level's size (stride 4), concatenated -> 1x1 conv (bias) -> 1
    boundary logit. IRN: stages 1-5 of ResNet-50 (64/256/512/1024/2048) ->
    32 each -> 160 -> 1.

    Displacement branch: the first ``num_shallow`` levels -> GNBranch at the
    output size; the other ("deep") levels -> GNBranch resized to the first
    deep level, concatenated -> GNBranch(dp_mid) resized to the output size;
    all concatenated -> GNBranch(dp_mid) -> 1x1 conv (no bias) -> 2 -> MeanShift.
    IRN: shallow 64/128, deep 256/256/256 -> 256, final 448 -> 256 -> 2.
    GroupNorm groups: 4 in the edge branch, min(16, channels // 8) in the
    displacement branch (IRN: 8 for 64 channels, 16 otherwise).

    Args:
        in_channels: channels of the backbone levels used (stride 4 first).
        edge_channels: per-level edge channels (32).
        dp_channels: per-level displacement channels (IRN 64, 128, 256, 256, 256).
        num_shallow: how many leading levels are at the output stride.
        dp_mid: channels of the fusion convs (256).
        in_index: which backbone outputs to use (default: the last
            ``len(in_channels)``).
        with_dp: build the displacement branch.
        detach: detach the input features (IRN trains the heads only).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 edge_channels: int = 32,
                 dp_channels: Optional[Sequence[int]] = None,
                 num_shallow: int = 1,
                 dp_mid: int = 256,
                 in_index: Optional[Sequence[int]] = None,
                 with_dp: bool = True,
                 detach: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        n = len(in_channels)
        if in_index is not None and len(in_index) != n:
            raise ValueError('IRNHead: in_index and in_channels differ in length')
        self.in_channels = tuple(in_channels)
        self.in_index = tuple(in_index) if in_index is not None else None
        self.detach = detach
        self.with_dp = with_dp
        self.edge_branches = nn.ModuleList([GNBranch(c, edge_channels, 4) for c in in_channels])
        self.edge_out = nn.Conv2d(edge_channels * n, 1, 1, bias=True)
        if with_dp:
            if not 1 <= num_shallow < n:
                raise ValueError(f'IRNHead: num_shallow must be in [1, {n - 1}], got {num_shallow}')
            if dp_channels is None:
                dp_channels = [min(64 * 2 ** i, dp_mid) for i in range(num_shallow)] + \
                              [dp_mid] * (n - num_shallow)
            if len(dp_channels) != n:
                raise ValueError(f'IRNHead: {len(dp_channels)} dp_channels for {n} levels')
            self.num_shallow = num_shallow
            self.dp_branches = nn.ModuleList(
                [GNBranch(c, o, dp_groups(o)) for c, o in zip(in_channels, dp_channels)])
            self.dp_fuse_deep = GNBranch(sum(dp_channels[num_shallow:]), dp_mid, dp_groups(dp_mid))
            self.dp_fuse = GNBranch(
                sum(dp_channels[:num_shallow]) + dp_mid, dp_mid, dp_groups(dp_mid))
            self.dp_out = nn.Conv2d(dp_mid, 2, 1, bias=False)
            self.mean_shift = MeanShift(2)

    def _select(self, feats: Sequence[Tensor]) -> List[Tensor]:
        feats = list(feats)
        if self.in_index is not None:
            feats = [feats[i] for i in self.in_index]
        else:
            feats = feats[len(feats) - len(self.in_channels):]
        got = [f.shape[1] for f in feats]
        if tuple(got) != self.in_channels:
            raise ValueError(f'IRNHead expected input channels {self.in_channels}, got {got}')
        return [f.detach() for f in feats] if self.detach else feats

    def forward_edge(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, 1, h, w) boundary logits at the first level's size."""
        feats = self._select(feats)
        size = tuple(feats[0].shape[-2:])
        edges = [b(f, size) for b, f in zip(self.edge_branches, feats)]
        return self.edge_out(torch.cat(edges, 1))

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Returns (edge logits (B, 1, h, w), displacement (B, 2, h, w) or None)."""
        edge = self.forward_edge(feats)
        if not self.with_dp:
            return edge, None
        feats = self._select(feats)
        size = tuple(feats[0].shape[-2:])
        k = self.num_shallow
        deep_size = tuple(feats[k].shape[-2:])
        shallow = [b(f, size) for b, f in zip(self.dp_branches[:k], feats[:k])]
        deep = [b(f, deep_size) for b, f in zip(self.dp_branches[k:], feats[k:])]
        deep = self.dp_fuse_deep(torch.cat(deep, 1), size)
        dp = self.dp_out(self.dp_fuse(torch.cat(shallow + [deep], 1)))
        return edge, self.mean_shift(dp)
