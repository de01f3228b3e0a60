"""Prediction by the mean of several branches' segmentation logits (BECO's test rule).

BECO (``models/train_beco.py: forward_cat_test``) predicts with the average of both
networks' logits; with ``test_msc`` the averaged stride-4 logits (``pre_logits``) of the
scales (0.5, 0.75, 1.0, 1.25, 1.5) are resized to the scale-1.0 grid and max-merged
pixel-wise (the scale-1.0 logits enter twice, as in the official list). Used as a
:class:`SingleStageWSSS` predictor: ``test_cfg=dict(predict_source='predictor',
predictor=dict(type='BranchMeanPredictor', branches=('b1', 'b2')))``.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS

__all__ = ['BranchMeanPredictor', 'branch_mean_logits']


def branch_mean_logits(branches: Sequence, x: Tensor) -> Tensor:
    """(B, K, h, w) mean of the branches' decode-head logits on ``x``."""
    return sum(b.seg_forward(b.extract_feat(x)) for b in branches) / len(branches)


@MODELS.register_module()
class BranchMeanPredictor:
    """``predictor(model, inputs) -> (B, K, H, W)`` mean logits of ``branches``.

    Args:
        branches: branch names whose decode-head logits are averaged.
        scales: None or BECO's ``[0.5, 0.75, 1.0, 1.25, 1.5]`` (``test_msc``): pixel-wise
            max of the scale-1.0 logits and every scale's logits, on the scale-1.0 grid.
        align_corners: of every resize (BECO: False).
    """

    def __init__(self,
                 branches: Sequence[str] = ('b1', 'b2'),
                 scales: Sequence[float] = None,
                 align_corners: bool = False) -> None:
        self.branches = tuple(branches)
        self.scales = tuple(scales) if scales else None
        self.align_corners = align_corners

    @torch.no_grad()
    def __call__(self, model, inputs: Tensor) -> Tensor:
        nets = [model.branches[n] for n in self.branches]
        logits = branch_mean_logits(nets, inputs)
        if self.scales:
            size = logits.shape[-2:]
            pyramid = [logits]
            for s in self.scales:
                x = F.interpolate(
                    inputs, scale_factor=s, mode='bilinear', align_corners=self.align_corners)
                pyramid.append(
                    F.interpolate(
                        branch_mean_logits(nets, x),
                        size=size,
                        mode='bilinear',
                        align_corners=self.align_corners))
            logits = torch.stack(pyramid).amax(0)
        return F.interpolate(
            logits, size=inputs.shape[-2:], mode='bilinear', align_corners=self.align_corners)
