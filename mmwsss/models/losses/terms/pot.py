"""POT's training term (``train_resnet50_POT.py``): prototype CAM vs CLIP-ES fusion."""
from typing import Dict

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...heads.pot_head import pot_consistency_loss, pot_fuse
from ...heads.sipe_head import sipe_norm_cam
from ...utils.cam import add_background
from .base import LossTerm
from .sipe import sipe_valid_mask


@MODELS.register_module()
class POTTerm(LossTerm):
    """``lossCon = mean |maxnorm(cam_class * valid) - maxnorm(cam_add * valid)|``.

    Steps (``Net.forward``): hie_fea (sides with RGB), SIPE's norm_cam x valid mask, seeds
    = its argmax, per-class 2-cluster k-means prototypes, (plan-weighted) cosine class
    maps, the CLIP-ES CAMs of the batch (files, bilinear to the grid, x valid fg), the
    training fusion (0.2), then the L1. Weight 10 in the config; the classification loss
    (weight 0.5) is a :class:`ClsTerm`. Returns ``loss_con``.

    The CLIP-ES CAMs are read per sample from ``head.clip_cam_dir`` by image path; they
    cover the whole image, so the training pipeline must not crop (POT resizes to 512 x 512;
    a horizontal flip is followed through the ``flip`` metainfo).
    """

    def __init__(self, name: str = 'con', branch: str = 'net', cam: str = 'pot', **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam = branch, cam

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        head = ctx.extras['cam_heads'][self.cam]
        cam = ctx.require('cams', self.cam)
        hie = head.hie_fea(out.feats)
        size = hie.shape[-2:]
        valid = sipe_valid_mask(ctx.img_labels.to(hie.dtype), size, ctx.valid_mask)
        norm_cam = sipe_norm_cam(cam, size, valid) * valid
        # train loop: bilinear (align_corners=False) to the grid, x the valid fg channels;
        # Net.forward: bg = 1 - max, resized to the CAM grid (the same grid: identity)
        clip_fg = head.clip_cams(ctx.data_samples, tuple(size), align_corners=False).to(hie)
        clip = add_background(clip_fg * valid[:, 1:], power=1.0)
        cam_class = head.class_maps(norm_cam, valid, hie)
        cam_class, cam_add = pot_fuse(cam_class, clip, valid, head.add_weight_train)
        return {'loss_con': pot_consistency_loss(cam_class, cam_add, valid)}
