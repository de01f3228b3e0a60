"""BECO's co-training losses (``models/train_beco.py: BECO.train_step``).

Two segmenters b1, b2 learn from the offline pseudo label on its confident pixels
(weighted up on the ClassMix boundary) and from each other on the unconfident ones:

    CE_i  = mean[ CE(out_i, label) * mask       * (1 + w_ce_i  * B) ]
    COT_i = mean[ CE(out_i, argmax out_{3-i}) * (1 - mask) * (1 + w_cot_i * B) ]
    total = CE_1 + CE_2 + COT_1 + COT_2           (w_ce = 0.2, w_cot = 0 in BECO)

``out_i`` are the logits bilinearly resized to the label size (align_corners=False,
the official network returns input-size logits), CE ignores 255, and the means run
over ALL pixels of the batch (``torch.mean`` of the masked map), as the official code
does: a batch whose mask is mostly 0 gets a small CE, not a CE renormalised over the
confident pixels. ``reduction='masked'`` divides by the sum of the weights instead
(not BECO; for comparison).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...utils.cam import IGNORE_INDEX
from .base import LossTerm

__all__ = ['beco_weighted_ce', 'beco_ce_loss', 'beco_cot_loss', 'BECOTerm']


def _resize(logits: Tensor, size) -> Tensor:
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode='bilinear', align_corners=False)


def beco_weighted_ce(logits: Tensor,
                     target: Tensor,
                     weight: Tensor,
                     reduction: str = 'all') -> Tensor:
    """``mean(CE(logits, target; ignore 255) * weight)``.

    Args:
        logits: (B, K, H, W) at the target size.
        target: (B, H, W) long, 255 = ignore (CE 0 there).
        weight: (B, H, W) float per-pixel weights.
        reduction: ``'all'`` (BECO: divide by B * H * W) or ``'masked'`` (divide by
            ``weight.sum()`` over non-ignored pixels, clamped to >= 1e-6).
    Returns:
        scalar loss.
    """
    ce = F.cross_entropy(logits, target.long(), ignore_index=IGNORE_INDEX, reduction='none')
    loss = ce * weight
    if reduction == 'all':
        return loss.mean()
    if reduction == 'masked':
        w = (weight * (target != IGNORE_INDEX)).sum().clamp(min=1e-6)
        return loss.sum() / w
    raise ValueError(f"reduction must be 'all' or 'masked', got {reduction!r}")


def beco_ce_loss(logits: Tensor,
                 label: Tensor,
                 mask: Tensor,
                 boundary: Optional[Tensor] = None,
                 boundary_weight: float = 0.2,
                 reduction: str = 'all') -> Tensor:
    """BECO's supervised term ``mean[CE(out, label) * mask * (1 + w * B)]``.

    Args:
        logits: (B, K, h, w) raw logits (resized to the label size here).
        label: (B, H, W) long pseudo label.
        mask: (B, H, W) 0/1 confidence mask.
        boundary: optional (B, H, W) 0/1 boundary map B (None: 0).
        boundary_weight: ``bdry_whb`` / ``bdry_whi`` (0.2).
    """
    logits = _resize(logits, label.shape[-2:])
    weight = mask.float()
    if boundary is not None:
        weight = weight * (1 + boundary_weight * boundary.float())
    return beco_weighted_ce(logits, label, weight, reduction)


def beco_cot_loss(logits: Tensor,
                  other_logits: Tensor,
                  mask: Tensor,
                  boundary: Optional[Tensor] = None,
                  boundary_weight: float = 0.0,
                  reduction: str = 'all') -> Tensor:
    """BECO's cross pseudo supervision ``mean[CE(out, argmax other) * (1 - mask) * (1 + w B)]``.

    Args:
        logits: (B, K, h, w) this net's logits (gradient flows).
        other_logits: (B, K, h', w') the other net's logits; only their argmax at the
            mask size is used (no gradient, as ``torch.max`` indices in the official).
        mask: (B, H, W) 0/1 confidence mask; the term covers ``1 - mask``.
        boundary, boundary_weight: ``bdry_wlb`` / ``bdry_wli`` (0 in BECO).
    """
    size = mask.shape[-2:]
    logits = _resize(logits, size)
    target = _resize(other_logits.detach(), size).argmax(1)
    weight = 1.0 - mask.float()
    if boundary is not None and boundary_weight:
        weight = weight * (1 + boundary_weight * boundary.float())
    return beco_weighted_ce(logits, target, weight, reduction)


@MODELS.register_module()
class BECOTerm(LossTerm):
    """CE_1 + CE_2 + COT_1 + COT_2 of two branches (BECO).

    Args:
        branches: the two branches (``('b1', 'b2')``); their decode heads' logits.
        label / mask / boundary: ``ctx.pseudo`` names of the offline (or mixed)
            label, the confidence mask and the boundary map (``boundary=None``: 0).
        ce_boundary_weights: ``(bdry_whb, bdry_whi)`` = (0.2, 0.2).
        cot_boundary_weights: ``(bdry_wlb, bdry_wli)`` = (0, 0).
        valid: also zero both terms on batch padding (``ctx.valid_mask``); BECO's crops
            are never padded, so this changes nothing there.
        reduction: see :func:`beco_weighted_ce`.
    Returns ``loss_ce1``, ``loss_ce2``, ``loss_cot1``, ``loss_cot2``.
    """

    def __init__(self,
                 name: str = 'beco',
                 branches: Sequence[str] = ('b1', 'b2'),
                 label: str = 'pl',
                 mask: str = 'conf',
                 boundary: Optional[str] = 'bdry',
                 ce_boundary_weights: Sequence[float] = (0.2, 0.2),
                 cot_boundary_weights: Sequence[float] = (0.0, 0.0),
                 valid: bool = True,
                 reduction: str = 'all',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if len(branches) != 2:
            raise ValueError(f'BECOTerm co-trains two branches, got {branches}')
        self.branches = tuple(branches)
        self.label, self.mask, self.boundary = label, mask, boundary
        self.ce_w = tuple(float(w) for w in ce_boundary_weights)
        self.cot_w = tuple(float(w) for w in cot_boundary_weights)
        self.valid = valid
        self.reduction = reduction

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        label = ctx.require('pseudo', self.label)
        mask = ctx.require('pseudo', self.mask).float()
        bdry = ctx.require('pseudo', self.boundary) if self.boundary else None
        outs = [ctx.require('branches', b).seg_logits for b in self.branches]
        if any(o is None for o in outs):
            raise ValueError(f'BECOTerm needs decode heads on branches {self.branches}')
        cot_mask = mask
        if self.valid and ctx.valid_mask is not None and ctx.valid_mask.shape == mask.shape:
            # padding: neither confident (CE) nor unconfident (COT)
            valid = ctx.valid_mask.float()
            label = torch.where(ctx.valid_mask, label, torch.full_like(label, IGNORE_INDEX))
            cot_mask = 1 - (1 - mask) * valid
        losses = {}
        for k in range(2):
            out, other = outs[k], outs[1 - k]
            losses[f'loss_ce{k + 1}'] = beco_ce_loss(out, label, mask, bdry, self.ce_w[k],
                                                     self.reduction)
            losses[f'loss_cot{k + 1}'] = beco_cot_loss(out, other, cot_mask, bdry, self.cot_w[k],
                                                       self.reduction)
        return losses
