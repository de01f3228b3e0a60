"""WeCLIP's affinity loss (Zhang et al., CVPR'24; official ``scripts/dist_clip_voc.py``).

The segmentation loss of WeCLIP is the bg/fg-balanced CE (``get_seg_loss``: half the mean CE
over background pixels plus half over foreground pixels, logits bilinearly upsampled to the
label), i.e. :func:`mmwsss.models.losses.bg_fg_seg_loss` through
``SegTerm(loss='bg_fg')``; :func:`weclip_seg_loss` names it for the comparison with the
official code.

The affinity loss trains the decoder affinity ``R = sigmoid(F^T F)`` (``WeCLIPHead``) on pairs
of the pseudo label at the token grid:

* :func:`radius_mask`: ``get_mask_by_radius(h, w, radius=8)``: pairs whose row AND column
  distances are both <= radius (a square window);
* :func:`weclip_affinity_label`: ``utils/camutils.py: cams_to_affinity_label``: the label
  nearest-downsampled by 16, same class = 1, else 0; pairs outside the window and pairs with
  an ignored token -> 255 (a token with itself is a positive pair, unlike ToCo's PTC);
* :func:`weclip_affinity_loss`: ``utils/losses.py: get_aff_loss``:
  ``0.5 * sum_pos (1 - R) / (N_pos + 1) + 0.5 * sum_neg R / (N_neg + 1)`` over the batch.
"""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..seg_loss import bg_fg_seg_loss
from .base import LossTerm

IGNORE_INDEX = 255


def weclip_seg_loss(logits: Tensor, label: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """WeCLIP's ``get_seg_loss`` (logits already at the label size): 0.5 * (bg CE + fg CE),
    each the mean over its pixels; an empty group contributes 0 (official: NaN)."""
    return bg_fg_seg_loss(logits, label, ignore_index=ignore_index)


def radius_mask(h: int, w: int, radius: int = 8, device=None) -> Tensor:
    """(h*w, h*w) bool: tokens i, j (row-major) with |row_i - row_j| <= radius and
    |col_i - col_j| <= radius (``get_mask_by_radius``)."""
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    near_r = (rows[:, None] - rows[None]).abs() <= radius
    near_c = (cols[:, None] - cols[None]).abs() <= radius
    return near_r & near_c


def weclip_affinity_label(label: Tensor,
                          radius: int = 8,
                          stride: int = 16,
                          ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Pair labels of the decoder affinity from a pixel label.

    Args:
        label: (B, H, W) integer pseudo label (0 bg, 1..C fg, ``ignore_index``).
        radius: window radius in tokens (8).
        stride: the label is resized to (H // stride, W // stride) by nearest
            (``F.interpolate(mode='nearest')``, the official ``clip_flag=16``).
    Returns:
        (B, N, N) long in {0, 1, ignore_index}, N = (H // stride) * (W // stride).
    """
    b, h, w = label.shape
    small = F.interpolate(
        label[:, None].float(), size=(h // stride, w // stride), mode='nearest')[:, 0].long()
    flat = small.flatten(1)  # (B, N)
    aff = (flat[:, :, None] == flat[:, None, :]).long()
    far = ~radius_mask(h // stride, w // stride, radius, label.device)
    ign = flat == ignore_index
    aff = aff.masked_fill(far[None], ignore_index)
    return aff.masked_fill(ign[:, :, None] | ign[:, None, :], ignore_index)


def weclip_affinity_loss(affinity: Tensor, aff_label: Tensor) -> Tensor:
    """``get_aff_loss``: positives pulled to 1, negatives to 0, pooled over the batch.

    Args:
        affinity: (B, N, N) predicted affinity in (0, 1).
        aff_label: (B, N, N) from :func:`weclip_affinity_label` (other values ignored).
    Returns:
        scalar loss.
    """
    pos = (aff_label == 1).to(affinity.dtype)
    neg = (aff_label == 0).to(affinity.dtype)
    pos_loss = (pos * (1 - affinity)).sum() / (pos.sum() + 1)
    neg_loss = (neg * affinity).sum() / (neg.sum() + 1)
    return 0.5 * pos_loss + 0.5 * neg_loss


@MODELS.register_module()
class WeCLIPAffinityTerm(LossTerm):
    """The decoder-affinity loss (WeCLIP weight 0.1).

    Args:
        branch: the branch whose ``WeCLIPHead`` kept ``last_affinity`` this step.
        label: the pseudo label (``ctx.pseudo[label]``, at the crop size).
        radius: pair window (8).
        stride: token stride of the affinity grid (16).
    """

    loss_keys = ('loss_aff', )

    def __init__(self,
                 name: str = 'aff',
                 branch: str = 'net',
                 label: str = 'seg',
                 radius: int = 8,
                 stride: int = 16,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.label = branch, label
        self.radius, self.stride = int(radius), int(stride)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        head = ctx.extras['decode_heads'][self.branch]
        affinity = getattr(head, 'last_affinity', None)
        if affinity is None:
            raise RuntimeError(f"branch '{self.branch}': the decode head kept no affinity "
                               '(WeCLIPHead in training mode)')
        label = ctx.require('pseudo', self.label)
        aff_label = weclip_affinity_label(label, self.radius, self.stride)
        if aff_label.shape != affinity.shape:
            raise ValueError(f'affinity {tuple(affinity.shape)} and pair labels '
                             f'{tuple(aff_label.shape)} differ: the crop must be a multiple '
                             f'of the stride {self.stride}')
        return {'loss_aff': weclip_affinity_loss(affinity.float(), aff_label)}


__all__ = [
    'weclip_seg_loss', 'radius_mask', 'weclip_affinity_label', 'weclip_affinity_loss',
    'WeCLIPAffinityTerm'
]
