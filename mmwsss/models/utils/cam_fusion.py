"""Pixel-wise fusion of two (or more) networks' normalised CAMs.

The Precision-aware ensemble the survey cites fuses CNN and ViT CAMs with AND / OR;
on CAMs in [0, 1] these are the element-wise min (a class must be active in every
network) and max (in any network), so that the usual background-threshold sweep
still applies to the fused map.
"""
from typing import Sequence

import torch
from torch import Tensor

FUSIONS = ('and', 'or', 'mean')


def fuse_cams(cams: Sequence[Tensor], mode: str = 'and') -> Tensor:
    """Fuse N CAM maps of one image or batch.

    Args:
        cams: N tensors of one shape, (C, H, W) or (B, C, H, W), in [0, 1].
        mode: ``'and'`` (element-wise min), ``'or'`` (max) or ``'mean'``.
    Returns:
        the fused map, same shape.
    """
    if mode not in FUSIONS:
        raise ValueError(f'fusion must be one of {FUSIONS}, got {mode!r}')
    if len(cams) == 0:
        raise ValueError('fuse_cams needs at least one CAM map')
    shapes = {tuple(c.shape) for c in cams}
    if len(shapes) != 1:
        raise ValueError(f'fuse_cams needs maps of one shape, got {sorted(shapes)}')
    stack = torch.stack(list(cams), 0)
    if mode == 'and':
        return stack.amin(0)
    if mode == 'or':
        return stack.amax(0)
    return stack.mean(0)
