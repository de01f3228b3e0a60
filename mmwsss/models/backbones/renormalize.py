"""Give a backbone its own input normalisation inside a multi-branch model.

One data preprocessor normalises the batch once; two branches of one model may
have been pretrained with different statistics (DINOv2: ImageNet mean / std;
the converted TF EfficientNet-Lite: 127 / 128). ``Renormalize`` maps the
preprocessor's output to the wrapped backbone's statistics, an affine map per
channel, exact (no rounding through uint8):

    x_own = (x * src_std + src_mean - mean) / std
"""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..segmentors.branch import in_parent_scope


@MODELS.register_module()
class Renormalize(BaseModule):
    """A backbone that sees inputs normalised with its own ``mean`` / ``std``.

    Args:
        backbone: the wrapped backbone config (its ``init_cfg`` loads as usual).
        src_mean / src_std: the data preprocessor's statistics (0-255 units,
            in the channel order of the network input).
        mean / std: the statistics the backbone was trained with (same order).
    """

    def __init__(self,
                 backbone: dict,
                 src_mean: Sequence[float],
                 src_std: Sequence[float],
                 mean: Sequence[float],
                 std: Sequence[float],
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        for key, v in dict(src_mean=src_mean, src_std=src_std, mean=mean, std=std).items():
            if len(v) != 3:
                raise ValueError(f'Renormalize: {key} needs 3 values, got {list(v)}')
        if min(src_std) <= 0 or min(std) <= 0:
            raise ValueError('Renormalize: std values must be > 0')
        self.backbone = MODELS.build(in_parent_scope(backbone))
        src_mean_t = torch.tensor(src_mean, dtype=torch.float32).view(1, 3, 1, 1)
        src_std_t = torch.tensor(src_std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        # x_own = x * scale + shift
        self.register_buffer('scale', src_std_t / std_t, persistent=False)
        self.register_buffer('shift', (src_mean_t - mean_t) / std_t, persistent=False)

    def forward(self, x: Tensor):
        """(B, 3, H, W) preprocessor-normalised -> the wrapped backbone's output."""
        return self.backbone(x * self.scale + self.shift)
