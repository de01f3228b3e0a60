"""ToCo's loss terms (Ru et al., CVPR'23) on the chassis: PTC, CTC, energy.

The formulas are plain tensor functions elsewhere (``token_contrast.py``,
``dense_energy_loss.py``, ``utils/roi_crops.py``); these terms only pick their
inputs from the training context. Reference: ToCo
``scripts/dist_train_voc_seg_neg.py`` and ``model/model_seg_neg.py``.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...heads.ctc_head import CTCHead
from ...label_sources.multi_scale import get_multi_scale_cams
from ...utils.ema import EMATeacher
from ...utils.roi_crops import cam_to_roi_mask, crop_from_roi_neg
from ..token_contrast import ctc_loss_neg, label_to_aff_mask, masked_ptc_loss
from .base import LossTerm


def _cls_token(feats) -> Tensor:
    """(B, D) first class token of a token backbone's output."""
    tokens = getattr(feats, 'cls_tokens', None)
    if tokens is None:
        raise KeyError('this term needs class tokens: use a token backbone (TokenViT) '
                       'with with_cls_token=True')
    return tokens[:, 0]


@MODELS.register_module()
class PTCTerm(LossTerm):
    """Patch token contrast: final patch tokens vs the aux-CAM affinity label.

    ``masked_ptc_loss(tokens, label_to_aff_mask(ctx.pseudo[label]))``, where the
    label lives on the token grid (``CAMLabelSource(cam='aux', size='cam',
    bg_thr=0.5, ignore_band=(0.25, 0.7))``). ToCo: weight 0.2, always on.

    Args:
        branch: the branch whose tokens are contrasted.
        label: the pseudo label on the token grid.
        feature_index: which backbone output map holds the final tokens
            (ToCo's ``_x4``: post-norm last block, the decoder's input).
    """

    loss_keys = ('loss_ptc', )

    def __init__(self,
                 name: str = 'ptc',
                 branch: str = 'net',
                 label: str = 'aff',
                 feature_index: int = -1,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.label, self.feature_index = branch, label, feature_index

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        tokens = ctx.require('branches', self.branch).feats[self.feature_index]
        label = ctx.require('pseudo', self.label)
        if tuple(label.shape[-2:]) != tuple(tokens.shape[-2:]):
            raise ValueError(f"PTC label '{self.label}' is {tuple(label.shape[-2:])} but the "
                             f'tokens are {tuple(tokens.shape[-2:])}: use size=\'cam\'')
        return {'loss_ptc': masked_ptc_loss(tokens, label_to_aff_mask(label))}


@MODELS.register_module()
class CTCTerm(LossTerm):
    """Class token contrast with negative local crops and an EMA teacher head.

    Per step (ToCo ``network.forward_proj``): the roi map of the multi-scale
    aux CAM (bg <= low, uncertain, fg >= high) places ``crop_num`` crops of
    ``crop_size`` on the local view, each flagged negative when its mean roi
    <= ``neg_thr``; the teacher head (EMA of the student head, momentum 0.9,
    updated first) projects the class tokens of the two global views
    (detached), the student head those of the global views and the crops;
    :func:`ctc_loss_neg` contrasts them. ToCo: weight 0.5, always on.

    The class token of the main view is the one of the branch's training pass
    (the official code runs the encoder on it a second time; without dropout
    both passes are equal, and so are their gradients).

    Args:
        in_dim: token dim (ViT-B 768, ViT-S 384).
        out_dim: projection dim (ToCo 1024).
        momentum: teacher keep rate (ToCo 0.9).
        temp: temperature (ToCo 0.5).
        global_view / local_view: names of the views in the context.
        roi_cam: CAM head of the roi map (ToCo: the aux head).
        multi_scale: its multi-scale setting (shared with the label sources).
        roi_thr: (low, high) of the roi map.
        crop_num, crop_size, neg_thr: the local crops (ToCo: 8, 96, 0.2).
        head: optional CTCHead config overrides (hidden_dim, bottleneck_dim).
    """

    loss_keys = ('loss_ctc', )

    def __init__(self,
                 in_dim: int,
                 name: str = 'ctc',
                 branch: str = 'net',
                 out_dim: int = 1024,
                 momentum: float = 0.9,
                 temp: float = 0.5,
                 global_view: str = 'global2',
                 local_view: str = 'local',
                 roi_cam: str = 'aux',
                 multi_scale: Optional[dict] = None,
                 roi_thr: Sequence[float] = (0.25, 0.7),
                 crop_num: int = 8,
                 crop_size: int = 96,
                 neg_thr: float = 0.2,
                 head: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch = branch
        self.head = CTCHead(in_dim=in_dim, out_dim=out_dim, **(head or {}))
        self.teacher = EMATeacher(self.head, momentum=momentum)
        self.temp = temp
        self.global_view, self.local_view = global_view, local_view
        self.roi_cam = roi_cam
        self.multi_scale = dict(multi_scale or dict(preset='toco'))
        self.roi_thr = tuple(roi_thr)
        self.crop_num, self.crop_size, self.neg_thr = crop_num, crop_size, neg_thr

    def multi_scale_requests(self) -> List[tuple]:
        return [(self.roi_cam, self.multi_scale)]

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        branch = ctx.extras['branch_modules'][self.branch]
        cams = get_multi_scale_cams(ctx, self.roi_cam, self.multi_scale)
        roi = cam_to_roi_mask(cams.detach(), ctx.img_labels, *self.roi_thr)
        local = ctx.require('views', self.local_view)
        crops, flags = crop_from_roi_neg(
            local, roi, self.crop_num, self.crop_size, neg_thr=self.neg_thr)
        g1 = _cls_token(out.feats)
        g2 = _cls_token(branch.extract_feat(ctx.require('views', self.global_view)))
        loc = _cls_token(branch.extract_feat(torch.cat(crops, 0)))
        self.teacher.update(self.head)
        teacher = self.teacher(torch.cat([g1, g2], 0).detach())
        student = self.head(torch.cat([g1, g2, loc], 0))
        n_neg = (flags[:, 2:] == 0).sum().float()
        return {
            'loss_ctc': ctc_loss_neg(student, teacher, flags.to(student.device), self.temp),
            'neg_crops': n_neg
        }


@MODELS.register_module()
class EnergyTerm(LossTerm):
    """The dense energy (rloss) regulariser of a branch's segmentation.

    ToCo ``get_energy_loss``: softmax of the seg logits resized to the label
    size, the de-normalised image, the img_box mask as ROI and the pseudo
    label's ignore pixels; weight 1e-7 inside the loss and 0.05 outside, from
    iteration 2000. Computed without a compiled extension
    (:class:`~mmwsss.models.losses.DenseEnergyLoss`).
    """

    loss_keys = ('loss_reg', )

    def __init__(self,
                 name: str = 'reg',
                 branch: str = 'net',
                 label: str = 'seg',
                 loss: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.label = branch, label
        self.loss = MODELS.build(dict(dict(type='DenseEnergyLoss'), **(loss or {})))

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        label = ctx.require('pseudo', self.label)
        logits = F.interpolate(
            out.seg_logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
        probs = logits.softmax(1)
        rois = ctx.valid_mask.float() if ctx.valid_mask is not None else \
            torch.ones_like(probs[:, 0])
        img = ctx.img.float()
        return {'loss_reg': self.loss(img, probs, rois, label[:, None])}
