"""Pair-affinity losses of AffinityNet (PSA ``train_aff.py``) and IRN
(``step/train_irn.py`` + ``net/resnet50_irn.py: AffinityDisplacementLoss``).

Pair tensors share one layout: (B, K, ...) with one channel per offset; the
label masks come from :func:`mmwsss.models.utils.affinity_labels.pair_labels`.
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmwsss.registry import MODELS


def _masked_mean(loss: Tensor, mask: Tensor, eps: float, scale: float = 1.) -> Tensor:
    """sum(loss * mask) / (scale * sum(mask) + eps), over the whole batch."""
    return (loss * mask).sum() / (scale * mask.sum() + eps)


def psa_affinity_loss(
    aff: Tensor,
    bg_pos: Tensor,
    fg_pos: Tensor,
    neg: Tensor,
    eps: float = 1e-5,
    weights: Tuple[float, float, float] = (0.25, 0.25, 0.5)) -> Tensor:
    """PSA's three-term loss:

        L = 1/4 sum(-bg log(a + eps)) / (N_bg + eps)
          + 1/4 sum(-fg log(a + eps)) / (N_fg + eps)
          + 1/2 sum(-neg log(1 + eps - a)) / (N_neg + eps)

    Args:
        aff: (B, K, ...) pair affinities in [0, 1].
        bg_pos, fg_pos, neg: float masks of the same shape.
    """
    bg = _masked_mean(-torch.log(aff + eps), bg_pos, eps)
    fg = _masked_mean(-torch.log(aff + eps), fg_pos, eps)
    ng = _masked_mean(-torch.log(1. + eps - aff), neg, eps)
    return weights[0] * bg + weights[1] * fg + weights[2] * ng


@MODELS.register_module()
class AffinityLoss(nn.Module):
    """AffinityNet's pair-affinity loss (:func:`psa_affinity_loss`).

    Args:
        weights: weights of the bg-pos, fg-pos and neg terms (1/4, 1/4, 1/2).
        eps: epsilon inside the logs and added to the counts (1e-5).
        loss_weight: overall weight.
        loss_name: key in the loss dict.
    """

    def __init__(self,
                 weights: Sequence[float] = (0.25, 0.25, 0.5),
                 eps: float = 1e-5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_aff') -> None:
        super().__init__()
        if len(weights) != 3:
            raise ValueError(f'AffinityLoss needs 3 term weights, got {weights}')
        self.weights = tuple(float(w) for w in weights)
        self.eps = eps
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, aff: Tensor, bg_pos: Tensor, fg_pos: Tensor, neg: Tensor) -> Tensor:
        return self.loss_weight * psa_affinity_loss(aff, bg_pos, fg_pos, neg, self.eps,
                                                    self.weights)

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class AffinityDisplacementLoss(nn.Module):
    """IRN's boundary-affinity + displacement loss.

        pos   = 1/2 sum(bg * -log(a + eps)) / (N_bg + eps)
              + 1/2 sum(fg * -log(a + eps)) / (N_fg + eps)
        neg   = sum(neg * -log(1 + eps - a)) / (N_neg + eps)
        dp_fg = sum(fg * |pair_disp - target|) / (2 N_fg + eps)
        dp_bg = sum(bg * |pair_disp|) / (2 N_bg + eps)
        total = (pos + neg) / 2 + (dp_fg + dp_bg) / 2

    The displacement sums run over both (y, x) components, hence the 2 N.
    Returns ``loss_aff = (pos + neg) / 2`` and ``loss_dp = (dp_fg + dp_bg) / 2``
    (each times its weight), so the mmengine sum is IRN's total loss.

    Args:
        aff_weight: weight of the affinity part (1).
        dp_weight: weight of the displacement part (1; 0 drops it).
        eps: 1e-5 as IRN.
    """

    def __init__(self, aff_weight: float = 1.0, dp_weight: float = 1.0, eps: float = 1e-5) -> None:
        super().__init__()
        self.aff_weight = aff_weight
        self.dp_weight = dp_weight
        self.eps = eps

    def forward(self,
                aff: Tensor,
                bg_pos: Tensor,
                fg_pos: Tensor,
                neg: Tensor,
                pair_disp: Tensor = None,
                disp_target: Tensor = None) -> Dict[str, Tensor]:
        """
        Args:
            aff: (B, K, ...) path affinities in [0, 1].
            bg_pos, fg_pos, neg: (B, K, ...) float masks.
            pair_disp: optional (B, 2, K, ...) displacement of the source
                minus that of the destination, dp(i) - dp(j).
            disp_target: (1, 2, K, 1, ...) or broadcastable: the offset (dy, dx)
                from i to j.
        Returns:
            dict with ``loss_aff`` and, when ``pair_disp`` is given, ``loss_dp``
            plus the logged terms ``aff_bg_pos``, ``aff_fg_pos``, ``aff_neg``.
        """
        eps = self.eps
        pos_loss = -torch.log(aff + eps)
        bg = _masked_mean(pos_loss, bg_pos, eps)
        fg = _masked_mean(pos_loss, fg_pos, eps)
        ng = _masked_mean(-torch.log(1. + eps - aff), neg, eps)
        losses = dict(
            loss_aff=self.aff_weight * ((bg / 2 + fg / 2) + ng) / 2,
            aff_bg_pos=bg.detach(),
            aff_fg_pos=fg.detach(),
            aff_neg=ng.detach())
        if pair_disp is not None:
            if disp_target is None:
                raise ValueError('pair_disp given without disp_target')
            dp_fg = _masked_mean((pair_disp - disp_target).abs(), fg_pos[:, None], eps, 2.)
            dp_bg = _masked_mean(pair_disp.abs(), bg_pos[:, None], eps, 2.)
            losses['loss_dp'] = self.dp_weight * (dp_fg + dp_bg) / 2
        return losses
