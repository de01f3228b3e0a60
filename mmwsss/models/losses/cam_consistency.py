"""Consistency between the CAMs of two networks (cross-architecture co-training).

Not from a paper: mmwsss's own term for the survey's open direction 1
(cross-architecture consistency; configs/xarch/README.md). Two branches with
different output grids (a CNN at stride 16, a ViT at its patch grid) are
compared after

1. ReLU and a per-image, per-class max normalisation (CAMs of different
   architectures have different scales: GAP vs GMP heads, 1280-d vs 384-d),
2. bilinear resizing (``align_corners=False``) of both to one grid,
3. an L1 distance averaged over the PRESENT classes and the pixels (absent
   classes carry no signal: their CAMs are pushed down by the classifier).
"""
from typing import Optional, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from ..utils.cam import normalize_cams

Size = Union[str, Tuple[int, int]]


def max_normalize(cams: Tensor, eps: float = 1e-5) -> Tensor:
    """(B, C, h, w) -> ReLU(cams) / (per-image, per-class max + eps): the project's
    :func:`~mmwsss.models.utils.cam.normalize_cams` ('max', IRN's rule) after a ReLU."""
    return normalize_cams(F.relu(cams), mode='max', eps=eps)


def _target_size(a: Tensor, b: Tensor, size: Size) -> Tuple[int, int]:
    if size == 'a':
        return tuple(a.shape[-2:])
    if size == 'b':
        return tuple(b.shape[-2:])
    if size == 'larger':
        ha, wa = a.shape[-2:]
        hb, wb = b.shape[-2:]
        return (ha, wa) if ha * wa >= hb * wb else (hb, wb)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"size must be 'a', 'b', 'larger' or (h, w), got {size!r}")


def cross_cam_consistency(cam_a: Tensor,
                          cam_b: Tensor,
                          img_labels: Tensor,
                          size: Size = 'larger',
                          detach: Optional[str] = None,
                          eps: float = 1e-5) -> Tensor:
    """L1 between two networks' max-normalised CAMs on the present classes.

    Args:
        cam_a: (B, C, ha, wa) raw CAMs of network a.
        cam_b: (B, C, hb, wb) raw CAMs of network b (same classes).
        img_labels: (B, C) multi-hot image labels.
        size: the common grid: ``'larger'`` (the grid with more cells, default),
            ``'a'``, ``'b'`` or an explicit (h, w).
        detach: None (both networks learn, default), ``'a'`` or ``'b'`` (that
            network is the target only).
        eps: of the max normalisation.
    Returns:
        scalar: ``sum_{b,c,p} y_bc |n(a) - n(b)|_bcp / (sum_bc y_bc * h * w)``
        (0 for a batch without labels).
    """
    if cam_a.shape[:2] != cam_b.shape[:2]:
        raise ValueError(f'cam_a {tuple(cam_a.shape)} and cam_b {tuple(cam_b.shape)} need the '
                         'same batch and classes')
    if detach not in (None, 'a', 'b'):
        raise ValueError(f"detach must be None, 'a' or 'b', got {detach!r}")
    if detach == 'a':
        cam_a = cam_a.detach()
    elif detach == 'b':
        cam_b = cam_b.detach()
    hw = _target_size(cam_a, cam_b, size)
    na, nb = max_normalize(cam_a, eps), max_normalize(cam_b, eps)
    if tuple(na.shape[-2:]) != hw:
        na = F.interpolate(na, size=hw, mode='bilinear', align_corners=False)
    if tuple(nb.shape[-2:]) != hw:
        nb = F.interpolate(nb, size=hw, mode='bilinear', align_corners=False)
    y = img_labels.to(na.dtype)[..., None, None]
    denom = y.sum() * hw[0] * hw[1]
    diff = ((na - nb).abs() * y).sum()
    return diff / denom if denom > 0 else diff * 0.0


__all__ = ['max_normalize', 'cross_cam_consistency']
