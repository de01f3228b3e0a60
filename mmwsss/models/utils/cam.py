"""CAM post-processing shared by every method: normalisation, merges, cam_to_label.

Conventions (used everywhere in mmwsss):
    - ``cams``: float tensor (B, C, H, W) over the C *foreground* classes;
      channel ``k`` is segmentation class ``k + 1`` (0 is background).
    - ``img_labels``: multi-hot float tensor (B, C).
    - labels: long tensor (B, H, W), 0 background, 255 ignore.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.checks import check_finite

IGNORE_INDEX = 255


def check_cams(cams: Tensor,
               img_labels: Optional[Tensor] = None,
               where: Optional[str] = None) -> None:
    """Raise a clear error for malformed CAM inputs (wrong rank, NaN / inf, label size).

    Args:
        cams: (B, C, H, W) CAMs.
        img_labels: optional (B, C) labels whose shape must match.
        where: what the CAMs belong to, put first in the messages, e.g.
            ``'image data/a.jpg (checkpoint iter_300.pth)'``; tools pass it so the
            user knows which image and checkpoint produced a NaN / inf.

    Raises:
        ValueError: wrong rank or label shape.
        mmwsss.utils.checks.NonFiniteError: NaN or inf values (the message says
            which of the two).
    """
    prefix = f'{where}: ' if where else ''
    if cams.dim() != 4:
        raise ValueError(f'{prefix}cams must be (B, C, H, W), got shape {tuple(cams.shape)}')
    check_finite(cams, 'cams', where)
    if img_labels is not None and img_labels.shape != cams.shape[:2]:
        raise ValueError(f'{prefix}img_labels shape {tuple(img_labels.shape)} does not match '
                         f'cams (B, C) = {tuple(cams.shape[:2])}')


def normalize_cams(cams: Tensor, mode: str = 'max', eps: float = 1e-5) -> Tensor:
    """Per-map normalisation of CAMs over their last two (spatial) dims.

    Args:
        cams: (..., H, W), usually (B, C, H, W); each (H, W) map is normalised.
        mode: ``'max'``: x / (max + eps) (IRN / PSA);
            ``'minmax'``: (x - min) / (max(x - min) + eps), as ToCo's
            ``multi_scale_cam2`` and pytorch-grad-cam (CLIP-ES, eps 1e-7) compute it;
            ``'minmax_seam'``: ReLU(x - min - eps) / (max - min + eps) (SEAM max_norm).
            ``'none'``: unchanged.
        eps: the stabiliser of the chosen formula.
    Returns:
        normalised CAMs, same shape.
    """
    if mode == 'none':
        return cams
    flat = cams.flatten(-2)
    cmax = flat.max(-1)[0][..., None, None]
    cmin = flat.min(-1)[0][..., None, None]
    if mode == 'max':
        return cams / (cmax + eps)
    if mode == 'minmax':
        shifted = cams - cmin
        return shifted / (shifted.flatten(-2).max(-1)[0][..., None, None] + eps)
    if mode == 'minmax_seam':
        return F.relu(cams - cmin - eps) / (cmax - cmin + eps)
    raise ValueError(f"unknown CAM normalisation '{mode}'")


def merge(maps: Sequence[Tensor], how: str) -> Tensor:
    """Merge same-shaped maps by ``'sum'``, ``'max'`` or ``'mean'``."""
    stacked = torch.stack(list(maps), 0)
    if how == 'sum':
        return stacked.sum(0)
    if how == 'max':
        return stacked.max(0)[0]
    if how == 'mean':
        return stacked.mean(0)
    raise ValueError(f"unknown merge '{how}', expected 'sum', 'max' or 'mean'")


def cam_to_label(cams: Tensor,
                 img_labels: Optional[Tensor] = None,
                 bg_thr: float = 0.15,
                 ignore_band: Optional[Sequence[float]] = None,
                 valid_mask: Optional[Tensor] = None) -> Tensor:
    """Hard labels from normalised CAMs (ToCo's ``cam_to_label`` semantics).

    v, c = max_k(y_k * cam_k); label = c + 1, and 0 where v <= bg_thr.
    With ``ignore_band=(low, high)``: label = 255 where v <= high, then 0 where
    v <= low, i.e. fg above ``high``, ignore in (low, high], bg at or below low.

    Args:
        cams: (B, C, H, W) CAMs in [0, 1].
        img_labels: (B, C) multi-hot; absent classes never win. None keeps all.
        bg_thr: background threshold.
        ignore_band: optional (low, high) thresholds of the ignore band.
        valid_mask: optional (B, H, W) bool; False pixels become 255 (img_box).
    Returns:
        (B, H, W) long labels in {0..C, 255}.
    """
    check_cams(cams, img_labels)
    if img_labels is not None:
        cams = cams * img_labels[..., None, None].to(cams.dtype)
    value, index = cams.max(1)
    label = index + 1
    label[value <= bg_thr] = 0
    if ignore_band is not None:
        low, high = ignore_band
        label[value <= high] = IGNORE_INDEX
        label[value <= low] = 0
    if valid_mask is not None:
        label[~valid_mask.bool()] = IGNORE_INDEX
    return label


def add_background(cams: Tensor, bg: float = None, power: float = None) -> Tensor:
    """Prepend a background channel to fg CAMs -> (B, C + 1, H, W).

    Either a constant score ``bg`` (IRN: 0.25/0.30, ToCo thresholds) or PSA's
    ``(1 - max_c cam) ** power``.
    """
    if (bg is None) == (power is None):
        raise ValueError('give exactly one of bg (constant) or power')
    if bg is not None:
        bgmap = torch.full_like(cams[:, :1], float(bg))
    else:
        bgmap = (1 - cams.max(1, keepdim=True)[0]).clamp(min=0)**power
    return torch.cat([bgmap, cams], 1)


BG_POSITIONS = ('first', 'last')


def labels_with_bg(img_labels: Tensor, bg: str = 'first') -> Tensor:
    """Image labels with the always-present background, shaped to multiply CAMs.

    Args:
        img_labels: (B, C) multi-hot foreground labels.
        bg: ``'first'`` (``cat([1, y])``: PSA / SEAM / SIPE / POT, background channel 0)
            or ``'last'`` (``cat([y, 1])``: EPS).
    Returns:
        (B, C + 1, 1, 1), same dtype as ``img_labels``.
    """
    if bg not in BG_POSITIONS:
        raise ValueError(f'bg must be one of {BG_POSITIONS}, got {bg!r}')
    ones = img_labels.new_ones(img_labels.shape[0], 1)
    parts = [ones, img_labels] if bg == 'first' else [img_labels, ones]
    return torch.cat(parts, 1)[..., None, None]


def scores_to_label(scores: Tensor, img_labels: Optional[Tensor] = None) -> Tensor:
    """Argmax of (B, 1 + C, H, W) background + fg scores; absent classes never win."""
    if img_labels is not None:
        keep = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1)
        scores = scores.masked_fill(keep[..., None, None] == 0, float('-inf'))
    return scores.argmax(1)
