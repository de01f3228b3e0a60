"""CPN's training loss as one term: the crop and its complementary superpixel pair.

Ferenas/CPN ``train_cpn.py``: the crop, ``img * sign`` and ``img * (1 - sign)`` (the
pipeline's :class:`~mmwsss.datasets.transforms.SuperpixelComplementaryPair`, packed as two
preprocessor views) go through the same network; the losses (all weight 1, no schedule)
are in :func:`~mmwsss.models.losses.equivariance.cpn_losses`.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..equivariance import OHEM_RATIO, cpn_losses
from .base import LossTerm
from .seam import head_parts, weighted


@MODELS.register_module()
class CPNTerm(LossTerm):
    """L_cls + L_min + L_tcp + L_cpcr of CPN.

    Args:
        branch: the branch of the full crop.
        cam: the :class:`~mmwsss.models.heads.PCMCAMHead` name (``with_prcm=True``).
        visible_pass / hidden_pass: the view passes of ``img * sign`` and
            ``img * (1 - sign)`` (``cam_heads=()``).
        ratio_key: metainfo key of the visible fraction c (u = 1 - c).
        loss_weights: optional ``{cls, min, tcp, cpcr}`` factors (default all 1).
        ohem_ratio: L_cpcr's hard fraction (0.2).
    """

    def __init__(self,
                 name: str = 'cpn',
                 branch: str = 'net',
                 cam: str = 'cam',
                 visible_pass: str = 'visible',
                 hidden_pass: str = 'hidden',
                 ratio_key: str = 'visible_ratio',
                 loss_weights: Optional[Dict[str, float]] = None,
                 ohem_ratio: float = OHEM_RATIO,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam = branch, cam
        self.visible_pass, self.hidden_pass = visible_pass, hidden_pass
        self.ratio_key = ratio_key
        self.loss_weights = dict(loss_weights or {})
        self.ohem_ratio = ohem_ratio

    def ratios(self, ctx: TrainContext):
        """(N,) c and u = 1 - c (computed in float64 as the official Python floats)."""
        vals = []
        for s in ctx.data_samples:
            if self.ratio_key not in s.metainfo:
                raise KeyError(f"CPNTerm needs metainfo '{self.ratio_key}' (pack it with "
                               f"PackWSSSViews(meta_keys=... + ('{self.ratio_key}',)))")
            vals.append(float(s.metainfo[self.ratio_key]))
        c = torch.tensor(vals, dtype=torch.float64, device=ctx.inputs.device)
        return c, 1 - c

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        full = head_parts(ctx, self.cam, ctx.require('branches', self.branch).feats)
        vis = head_parts(ctx, self.cam, ctx.require('passes', self.visible_pass).feats)
        hid = head_parts(ctx, self.cam, ctx.require('passes', self.hidden_pass).feats)
        c, u = self.ratios(ctx)
        losses = cpn_losses(full['cam'], full['cam_rv'], vis['cam'], vis['cam_rv'], hid['cam'],
                            hid['cam_rv'], ctx.img_labels, c, u, self.ohem_ratio)
        return weighted(losses, self.loss_weights)
