"""SEAM's training loss as one term: two views of one branch, the PCM head re-run on both.

YudeWang/SEAM ``train_SEAM.py``: view 1 is the crop, view 2 the crop rescaled by 0.3
(bilinear, ``align_corners=True``), both through the same network; the losses
(all weight 1, no schedule) are in :func:`~mmwsss.models.losses.equivariance.seam_losses`.
"""
from typing import Dict, Optional

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..equivariance import OHEM_RATIO, seam_losses
from .base import LossTerm


def head_parts(ctx: TrainContext, cam: str, feats) -> Dict[str, Tensor]:
    """``forward_parts`` of the PCM CAM head ``cam`` on one branch / pass output."""
    head = ctx.extras['cam_heads'].get(cam)
    if head is None or not hasattr(head, 'forward_parts'):
        raise KeyError(f"CAM head '{cam}' must be a PCMCAMHead (forward_parts); heads: "
                       f"{sorted(ctx.extras['cam_heads'])}")
    return head.forward_parts(feats)


def weighted(losses: Dict[str, Tensor], weights: Optional[Dict[str, float]]) -> Dict[str, Tensor]:
    """Multiply ``loss_<k>`` by ``weights[k]`` (ablations; the official weights are all 1)."""
    if not weights:
        return losses
    unknown = sorted(set(weights) - {k[len('loss_'):] for k in losses})
    if unknown:
        raise KeyError(f'unknown loss weights {unknown}; losses: {sorted(losses)}')
    return {k: v * weights.get(k[len('loss_'):], 1.0) for k, v in losses.items()}


@MODELS.register_module()
class SEAMTerm(LossTerm):
    """L_cls + L_min + L_ER + L_ECR of SEAM.

    The head's ``forward_parts`` runs on the branch's backbone output (view 1) and on
    the view pass ``small_pass`` (view 2, the segmentor's ``view_passes`` entry with
    ``cam_heads=()``: only the backbone runs there). Both calls draw their own fc8
    dropout mask, as the two official forwards do.

    Args:
        branch: the branch of view 1.
        cam: the :class:`~mmwsss.models.heads.PCMCAMHead` name.
        small_pass: the view pass of view 2 (``ctx.passes``).
        loss_weights: optional ``{cls, min, er, ecr}`` factors (default all 1).
        ohem_ratio: L_ECR's hard fraction (0.2).

    Returns ``loss_cls``, ``loss_min``, ``loss_er``, ``loss_ecr``; their sum is the
    official loss (its ``loss_cls`` is ``loss_cls + loss_min`` here).
    """

    def __init__(self,
                 name: str = 'seam',
                 branch: str = 'net',
                 cam: str = 'cam',
                 small_pass: str = 'small',
                 loss_weights: Optional[Dict[str, float]] = None,
                 ohem_ratio: float = OHEM_RATIO,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam, self.small_pass = branch, cam, small_pass
        self.loss_weights = dict(loss_weights or {})
        self.ohem_ratio = ohem_ratio

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        v1 = head_parts(ctx, self.cam, ctx.require('branches', self.branch).feats)
        v2 = head_parts(ctx, self.cam, ctx.require('passes', self.small_pass).feats)
        losses = seam_losses(v1['cam'], v1['cam_rv'], v2['cam'], v2['cam_rv'], ctx.img_labels,
                             self.ohem_ratio)
        return weighted(losses, self.loss_weights)
