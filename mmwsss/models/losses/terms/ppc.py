"""SEAM + PPC as one term: both views' head outputs feed SEAM's losses and PPC's.

usr922/wseg ``contrast_train.py``: one network forward per view gives ``cam``, ``cam_rv``,
``f_proj`` and ``cam_rv_down``; SEAM's losses (weight 1) and PPC's three contrast losses
(each 0.1 x the mean of the two views) are summed. One term, so that both sets of losses
read the SAME forward (one fc8 / fc_proj dropout mask per view, as the official) instead
of re-running the head per term.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..equivariance import OHEM_RATIO, seam_losses
from ..pixel_prototype_contrast import ppc_losses
from .seam import SEAMTerm, head_parts, weighted


@MODELS.register_module()
class SEAMPPCTerm(SEAMTerm):
    """SEAM's L_cls + L_min + L_ER + L_ECR and PPC's L_cross + L_cross_pl + L_intra.

    Args:
        branch, cam, small_pass, ohem_ratio: as :class:`SEAMTerm`; ``cam`` must be a
            :class:`~mmwsss.models.heads.PPCCAMHead` (``proj``, ``cam_rv_lowres``).
        ppc: keyword arguments of :func:`~mmwsss.models.losses.pixel_prototype_contrast
            .ppc_losses` (``size`` (16, 16), ``bg_thr`` 0.20, ``topk_div`` 8, ``tau`` 0.1,
            ``gamma`` 0.1, ``mining_topk`` 13, ``mining_skip`` 3, ``hard_ratio`` 0.6;
            ``bg_channel`` stays ``'first'``: SEAM's CAM has the background in channel 0).
        loss_weights: optional factors keyed by the loss names without ``loss_``
            (``cls, min, er, ecr, cross, cross_pl, intra``; default all 1: the official).
        seed: seeds the generator of the intra-view random pixel subset (the official
            draws it from Python's unseeded ``random``); None uses torch's global RNG.

    Returns ``loss_cls``, ``loss_min``, ``loss_er``, ``loss_ecr``, ``loss_cross``,
    ``loss_cross_pl``, ``loss_intra``; their sum is the official total loss.
    """

    loss_keys = ('loss_cls', 'loss_min', 'loss_er', 'loss_ecr', 'loss_cross', 'loss_cross_pl',
                 'loss_intra')

    def __init__(self,
                 name: str = 'ppc',
                 branch: str = 'net',
                 cam: str = 'cam',
                 small_pass: str = 'small',
                 ppc: Optional[dict] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 ohem_ratio: float = OHEM_RATIO,
                 seed: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(
            name=name,
            branch=branch,
            cam=cam,
            small_pass=small_pass,
            loss_weights=loss_weights,
            ohem_ratio=ohem_ratio,
            **kwargs)
        self.ppc = dict(ppc or {})
        if self.ppc.get('bg_channel', 'first') != 'first':
            raise ValueError("SEAMPPCTerm: SEAM's background is channel 0 (bg_channel='first')")
        for key in ('topk_indices', 'sampler', 'generator'):
            if key in self.ppc:
                raise ValueError(f'SEAMPPCTerm: {key} is a test-time injection of ppc_losses')
        if 'size' in self.ppc and self.ppc['size'] is not None:
            self.ppc['size'] = tuple(self.ppc['size'])
        self.seed = seed
        self._generator = None

    def generator(self) -> Optional[torch.Generator]:
        """The seeded CPU generator of the random pixel subsets (created on first use)."""
        if self.seed is None:
            return None
        if self._generator is None:
            self._generator = torch.Generator(device='cpu')
            self._generator.manual_seed(self.seed)
        return self._generator

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        v1 = head_parts(ctx, self.cam, ctx.require('branches', self.branch).feats)
        v2 = head_parts(ctx, self.cam, ctx.require('passes', self.small_pass).feats)
        for key in ('proj', 'cam_rv_lowres'):
            if key not in v1:
                raise KeyError(f"CAM head '{self.cam}' must be a PPCCAMHead (no '{key}')")
        losses = seam_losses(v1['cam'], v1['cam_rv'], v2['cam'], v2['cam_rv'], ctx.img_labels,
                             self.ohem_ratio)
        losses.update(
            ppc_losses(
                v1['cam_rv_lowres'],
                v1['proj'],
                v2['cam_rv_lowres'],
                v2['proj'],
                ctx.img_labels,
                generator=self.generator(),
                **self.ppc))
        return weighted(losses, self.loss_weights)
