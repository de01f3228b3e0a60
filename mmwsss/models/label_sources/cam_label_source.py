"""Online pseudo labels for single-stage training, from the classifier's CAMs."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import cam_to_label, normalize_cams
from ..utils.cam_inference import multi_scale_cams


@MODELS.register_module()
class CAMLabelSource(BaseModule):
    """Turn the classification branch's CAMs into per-pixel training labels.

    Called by :class:`SingleStageWSSS` with a context dict holding
    ``inputs`` (B, 3, H, W) normalised images, ``cams`` (B, C, h, w) raw CAMs of
    the training forward pass, ``img_labels`` (B, C), ``img`` (B, 3, H, W) uint8
    RGB (de-normalised), ``model`` (the segmentor) and
    ``data_samples``. Returns (B, H, W) long labels (0 bg, 255 ignore). No
    gradient flows through the labels.

    Args:
        multi_scale: None uses the training pass's CAMs (resized, ReLU, norm);
            a dict of :func:`multi_scale_cams` kwargs (e.g. ToCo's
            ``dict(scales=(1.0, 0.5, 1.5), flip=True, flip_merge='max',
            relu_first=False)``) recomputes them with the current weights.
        norm: CAM normalisation (:func:`normalize_cams` mode).
        bg_thr: background threshold of :func:`cam_to_label`.
        ignore_band: optional (low, high) band labelled 255.
        refiner: optional refiner config (e.g. ``PARRefiner``) applied to the
            refine state ``{img, cams, img_labels}``; its ``label`` (or scores)
            then replaces cam_to_label.
    """

    def __init__(self,
                 multi_scale: Optional[dict] = None,
                 norm: str = 'minmax',
                 bg_thr: float = 0.5,
                 ignore_band: Optional[Sequence[float]] = None,
                 refiner: Optional[Union[dict, torch.nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.multi_scale = multi_scale
        self.norm = norm
        self.bg_thr = bg_thr
        self.ignore_band = ignore_band
        self.refiner = MODELS.build(refiner) if isinstance(refiner, dict) else refiner

    @torch.no_grad()
    def forward(self, ctx: dict) -> Tensor:
        inputs, labels = ctx['inputs'], ctx['img_labels']
        size = inputs.shape[-2:]
        if self.multi_scale is not None:
            cams = multi_scale_cams(ctx['model'].cam_fn, inputs, norm=self.norm,
                                    img_labels=labels, **self.multi_scale)
        else:
            cams = F.interpolate(ctx['cams'].detach(), size=size, mode='bilinear',
                                 align_corners=False)
            cams = normalize_cams(F.relu(cams), self.norm) * labels[..., None, None]
        if self.refiner is not None:
            from ..refiners.base import final_label
            state = self.refiner(dict(img=ctx['img'], cams=cams, img_labels=labels))
            return final_label(state, self.bg_thr)
        return cam_to_label(cams, labels, bg_thr=self.bg_thr, ignore_band=self.ignore_band)
