"""S&M ("Splitting vs. Merging", Zhang et al., ECCV'20): Discrepancy and Intersection losses.

No official or unofficial code exists and only the abstract was read (reference §8): several
region-mining maps are trained with a Discrepancy loss that pushes them to mine regions with
DIFFERENT spatial patterns ("splitting") and an Intersection loss that mines the regions COMMON
to them ("merging"). The formulas below are our reading of that sentence, not the paper's
equations (configs/sm/README.md lists every choice):

* discrepancy: mean cosine similarity of the ReLU'd CAMs of every pair of maps, over the
  classes present in the image. Minimising it drives the maps of one class apart in space.
  Cosine similarity is scale-free, so no normalisation of the maps is needed.
* intersection: the pixel-wise minimum of the raw CAMs of all maps (their soft intersection)
  must still classify the image: multi-label soft-margin loss on its global average. This
  keeps a common, discriminative core that every map covers, and counters the discrepancy
  term (which alone could push one map onto background).
"""
from itertools import combinations
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_maps(cams: Sequence[Tensor], img_labels: Tensor) -> None:
    if len(cams) < 2:
        raise ValueError(f'S&M losses need at least 2 maps, got {len(cams)}')
    shape = cams[0].shape
    if any(c.shape != shape for c in cams):
        raise ValueError(f'all maps must have one shape, got {[tuple(c.shape) for c in cams]}')
    if img_labels.shape != shape[:2]:
        raise ValueError(f'img_labels {tuple(img_labels.shape)} do not match maps (B, C) = '
                         f'{tuple(shape[:2])}')


def discrepancy_loss(cams: Sequence[Tensor], img_labels: Tensor, eps: float = 1e-5) -> Tensor:
    """Mean over map pairs and present classes of cos(ReLU(cam_i), ReLU(cam_j)).

    Args:
        cams: K >= 2 raw CAMs, each (B, C, h, w).
        img_labels: (B, C) multi-hot labels; only present classes count.
        eps: lower bound of the product of norms (an all-zero map gives similarity 0).

    Returns:
        scalar in [0, 1]; 0 when no class is present.
    """
    _check_maps(cams, img_labels)
    flat = [F.relu(c).flatten(2) for c in cams]  # (B, C, hw)
    mask = img_labels.float()
    total = cams[0].new_zeros(())
    pairs = list(combinations(range(len(flat)), 2))
    for i, j in pairs:
        a, b = flat[i], flat[j]
        cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(eps)  # (B, C)
        total = total + (cos * mask).sum()
    return total / (mask.sum() * len(pairs)).clamp_min(1.0)


def intersection_logits(cams: Sequence[Tensor]) -> Tensor:
    """GAP of the pixel-wise minimum of the raw CAMs: (K x (B, C, h, w)) -> (B, C)."""
    inter = torch.stack(list(cams), 0).min(0)[0]
    return inter.mean((-2, -1))


def intersection_loss(cams: Sequence[Tensor], img_labels: Tensor) -> Tensor:
    """Multi-label soft-margin loss of :func:`intersection_logits` against the labels.

    Args:
        cams: K >= 2 raw CAMs, each (B, C, h, w).
        img_labels: (B, C) multi-hot.

    Returns:
        scalar: mean over B and C of -[y log s(z) + (1 - y) log s(-z)] (torch's
        ``multilabel_soft_margin_loss``).
    """
    _check_maps(cams, img_labels)
    return F.multilabel_soft_margin_loss(intersection_logits(cams), img_labels.float())
