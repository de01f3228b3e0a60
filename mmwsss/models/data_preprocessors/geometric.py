"""Deterministic geometric views of a batch: a flip and / or a rescale.

SEAM's second view is the crop rescaled by 0.3 (bilinear, ``align_corners=True``,
``F.interpolate(img, scale_factor=0.3)``); ACR's is the horizontally flipped batch;
DuPL downscales its strong view by 0.75. These are views of the preprocessor
(``WSSSDataPreProcessor(views=dict(name=dict(source=..., aug=dict(type='GeometricView',
...))))``) that a segmentor ``view_passes`` entry runs a branch on.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS


@MODELS.register_module()
class GeometricView(nn.Module):
    """Flip (always, when asked) then rescale a (B, 3, H, W) float image batch.

    Args:
        flip: flip every image horizontally (ACR's ``RandomHorizontalFlip(p=1)``
            on the batch tensor).
        scale_factor: passed to ``F.interpolate`` as is (the output side is
            ``floor(side * scale_factor)``; with ``align_corners=False`` the
            factor, not the size ratio, maps the coordinates, as in the
            official calls), or None.
        size: an explicit output (h, w) instead of ``scale_factor``.
        mode / align_corners: of the interpolation (SEAM: bilinear, True).
    """

    def __init__(self,
                 flip: bool = False,
                 scale_factor: Optional[float] = None,
                 size: Optional[Tuple[int, int]] = None,
                 mode: str = 'bilinear',
                 align_corners: Optional[bool] = False) -> None:
        super().__init__()
        if scale_factor is not None and size is not None:
            raise ValueError('GeometricView: give scale_factor or size, not both')
        if scale_factor is not None and scale_factor <= 0:
            raise ValueError(f'GeometricView: scale_factor must be > 0, got {scale_factor}')
        self.flip = flip
        self.scale_factor = scale_factor
        self.size = tuple(size) if size is not None else None
        self.mode = mode
        self.align_corners = None if mode == 'nearest' else align_corners

    def forward(self, imgs: Tensor) -> Tuple[Tensor, Tensor]:
        """(B, 3, H, W) float -> ``(out (B, 3, H', W') float, flipped (B,) bool)``
        (the views' convention, see ``PhotometricView``)."""
        out = imgs.flip(-1) if self.flip else imgs
        if self.scale_factor is not None or self.size is not None:
            out = F.interpolate(
                out,
                size=self.size,
                scale_factor=self.scale_factor,
                mode=self.mode,
                align_corners=self.align_corners)
        flipped = torch.full((imgs.shape[0], ), self.flip, dtype=torch.bool, device=imgs.device)
        return out, flipped

    def extra_repr(self) -> str:
        return (f'flip={self.flip}, scale_factor={self.scale_factor}, size={self.size}, '
                f'mode={self.mode}, align_corners={self.align_corners}')
