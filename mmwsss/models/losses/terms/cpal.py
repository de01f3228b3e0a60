"""CPAL's training term: context-aware prototypes -> PA-CAM -> L_self and L_fda."""
from typing import Dict, Optional

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...heads.sipe_head import sipe_norm_cam
from ..cpal_loss import FDA_DISTANCES, cpal_self_loss, feature_distribution_alignment
from .base import LossTerm
from .sipe import sipe_valid_mask


@MODELS.register_module()
class CPALTerm(LossTerm):
    """CPAL's prototype-guided self-supervision (the BCE is a :class:`ClsTerm`).

    Steps: hie_fea (SIPE's side convs), SIPE's norm_cam x valid mask, structure-aware seeds
    (of the external CAM blend when the head has ``ext_cam_dir``), instance prototypes,
    context-aware prototypes from the head's bank (its state BEFORE this batch), PA-CAM,
    then ``loss_self`` (:func:`cpal_self_loss`) and ``loss_fda``
    (:func:`feature_distribution_alignment`, weighted by ``fda_weight`` inside the term so
    that ``weight`` scales both, like SIPE's one GSC term). Finally the batch's instance
    prototypes are written into the bank.

    Args:
        branch: the branch name.
        cam: the :class:`CPALHead` name.
        fda_weight: weight of ``loss_fda`` relative to ``loss_self`` (open choice: 0.1).
        fda_distance: ``'ce'`` or ``'cosine'``.
        fda_tau: temperature of ``'ce'`` (0.1).
        fda_detach: detach the prototypes in ``L_fda`` (targets; default True).
        update_bank: write the bank (False freezes it, e.g. for an ablation).
    """

    def __init__(self,
                 name: str = 'cpal',
                 branch: str = 'net',
                 cam: str = 'cpal',
                 fda_weight: float = 0.1,
                 fda_distance: str = 'ce',
                 fda_tau: float = 0.1,
                 fda_detach: bool = True,
                 update_bank: bool = True,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if fda_distance not in FDA_DISTANCES:
            raise ValueError(f'fda_distance must be one of {FDA_DISTANCES}, got {fda_distance!r}')
        self.branch, self.cam = branch, cam
        self.fda_weight = fda_weight
        self.fda_distance = fda_distance
        self.fda_tau = fda_tau
        self.fda_detach = fda_detach
        self.update_bank = update_bank

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        head = ctx.extras['cam_heads'][self.cam]
        cam = ctx.require('cams', self.cam)
        hie = head.hie_fea(out.feats)
        size = tuple(hie.shape[-2:])
        valid = sipe_valid_mask(ctx.img_labels.to(hie.dtype), size, ctx.valid_mask)
        norm_cam = sipe_norm_cam(cam, size, valid)
        seed_feat = hie if head.train_seed_feature == 'hie' else head.cls_feature(out.feats)
        ext: Optional[Tensor] = None
        if head.ext_cam_dir:
            # fg x labels / valid region, bg = 1 - max fg, then x valid (padding 0)
            ext = head.ext_cams(ctx.data_samples, size, valid[:, 1:]).to(hie) * valid
        maps = head.cpal_maps(norm_cam, hie, seed_feat, valid, ext)
        protos = maps['protos'].detach() if self.fda_detach else maps['protos']
        losses = {
            'loss_self':
            cpal_self_loss(norm_cam, maps['pa_cam']),
            'loss_fda':
            self.fda_weight * feature_distribution_alignment(
                hie, maps['seeds'], protos, maps['present'], self.fda_distance, self.fda_tau),
        }
        if self.update_bank and head.training:
            head.update_bank(maps['anchors'], maps['present'])
        losses['bank_fill'] = head.bank.valid.float().mean().detach()
        return losses
