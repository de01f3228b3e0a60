"""SIPE's training term: image-specific prototypes -> IS-CAM -> GSC loss."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..gsc_loss import gsc_loss
from .base import LossTerm


def sipe_valid_mask(img_labels: Tensor, size, valid_mask: Optional[Tensor] = None) -> Tensor:
    """SIPE's ``valid_mask_lowres``: (B, K, h, w), K = 1 + C.

    Channel 0 is 1 on the un-padded crop, fg channel c is that times the image label c,
    resized to the CAM grid with nearest neighbours (the official code resizes to
    ``(H // 16, W // 16)``, the same grid for its 512 crops).

    Args:
        img_labels: (B, C) multi-hot.
        size: (h, w) grid.
        valid_mask: optional (B, H, W) bool, False on padding (None: all valid).
    """
    b, c = img_labels.shape
    if valid_mask is None:
        region = img_labels.new_ones(b, 1, *size)
    else:
        region = F.interpolate(valid_mask[:, None].to(img_labels.dtype), size=size, mode='nearest')
    keep = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1)
    return region * keep[..., None, None]


@MODELS.register_module()
class SIPETerm(LossTerm):
    """SIPE's L_GSC (the classification loss is a :class:`ClsTerm` on the same head).

    Reads the branch's backbone outputs and the :class:`SIPEHead` ``cam``: hie_fea from
    the side convs, norm_cam (masked by :func:`sipe_valid_mask`), seeds from the
    correlation of the classifier's input (x4), prototypes, IS-CAM, then
    :func:`gsc_loss`. Returns ``loss_gsc``.

    Args:
        branch: the branch name.
        cam: the SIPE head name.
    """

    def __init__(self, name: str = 'gsc', branch: str = 'net', cam: str = 'sipe', **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam = branch, cam

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        head = ctx.extras['cam_heads'][self.cam]
        cam = ctx.require('cams', self.cam)
        hie = head.hie_fea(out.feats)
        valid = sipe_valid_mask(ctx.img_labels.to(hie.dtype), hie.shape[-2:], ctx.valid_mask)
        seed_feat = hie if head.train_seed_feature == 'hie' else head.cls_feature(out.feats)
        norm_cam, _, is_cam = head.is_cam(cam, hie, seed_feat, valid)
        return {'loss_gsc': gsc_loss(norm_cam, is_cam)}
