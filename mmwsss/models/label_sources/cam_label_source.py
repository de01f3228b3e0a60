"""Online pseudo labels for single-stage training, from a named CAM head's CAMs."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..refiners.base import final_label
from ..utils.cam import cam_to_label, normalize_cams
from ..utils.class_thresholds import Threshold, ThresholdSpec
from .multi_scale import get_multi_scale_cams

VALID_MASK_MODES = ('resize', 'topleft', 'none')


def valid_mask_at(valid_mask: Optional[Tensor],
                  size: Tuple[int, int],
                  mode: str = 'resize') -> Optional[Tensor]:
    """The (B, H, W) valid mask at a label size (h, w).

    ``'resize'``: nearest resize (the box scaled to the label grid: the
    papers' intent). ``'topleft'``: ToCo's quirk: ``cam_to_label`` slices the
    label grid with the img_box PIXEL coordinates, which equals the top-left
    (h, w) corner of the full-resolution mask (so on a 28x28 token grid every
    token is ignored when the box starts below row 28). ``'none'``: no mask.
    """
    if valid_mask is None or mode == 'none':
        return None
    if mode not in VALID_MASK_MODES:
        raise ValueError(f'valid_mask_mode must be one of {VALID_MASK_MODES}, got {mode!r}')
    if tuple(valid_mask.shape[-2:]) == tuple(size):
        return valid_mask.bool()
    if mode == 'topleft':
        h, w = size
        out = torch.zeros(valid_mask.shape[0], h, w, dtype=torch.bool, device=valid_mask.device)
        part = valid_mask[:, :h, :w].bool()
        out[:, :part.shape[1], :part.shape[2]] = part
        return out
    return F.interpolate(valid_mask[:, None].float(), size=tuple(size), mode='nearest')[:, 0] > 0.5


@MODELS.register_module()
class CAMLabelSource(BaseModule):
    """Pseudo labels ``ctx.pseudo[name]`` from the CAMs of CAM head ``cam``.

    Steps: CAMs (the training pass's, resized to the input and min-max
    normalised, or multi-scale with the current weights); optionally resized to
    ``size``; then either ``cam_to_label`` (bg threshold, ignore band, valid
    mask) or a refiner (PAR, CRF, ...) on ``{img, cams, img_labels,
    valid_mask}``. No gradient flows through the labels.

    Args:
        cam: the CAM head whose CAMs are used.
        multi_scale: None uses the training pass's CAMs; a setting of
            :func:`multi_scale_cams` (``dict(preset='toco')``) recomputes
            them over scales and flips with the current weights.
        norm: normalisation of the training-pass CAMs (ignored with
            ``multi_scale``: the setting's own ``norm`` applies).
        size: label size: None = the input size; ``'cam'`` = the CAM head's
            own output grid (ToCo's PTC label on the 28x28 token grid); or (h, w).
        bg_thr, ignore_band: see :func:`cam_to_label`. Each threshold may
            also be a per-class list or a schedule config (DuPL's dynamic high
            threshold ``dict(type='CosineDescent', begin=2000, end=19999,
            begin_value=0.7, end_value=[...20 class targets])``), evaluated at
            the iteration and reduced per image by ``class_reduce`` over the
            image's classes (:class:`~mmwsss.models.utils.class_thresholds.Threshold`).
        refiner: optional refiner config; its label replaces cam_to_label.
        refiner_thr: optional ``{state key: threshold spec}`` put into the
            refine state at every call, e.g. ``dict(bg_high=<spec>)``: the PAR
            refiner then uses that (per-image) bg score instead of its own
            ``bg_high`` (DuPL's ``refine_cams_with_dynamic_thres``).
        class_reduce: per-class -> per-image reduction of the thresholds
            (``'max'`` = DuPL, ``'min'``, ``'mean'``).
        valid_mask_mode: how the padding mask reaches a smaller label grid,
            see :func:`valid_mask_at`.
    """

    def __init__(self,
                 cam: str = 'main',
                 multi_scale: Optional[dict] = None,
                 norm: str = 'minmax',
                 size: Union[None, str, Sequence[int]] = None,
                 bg_thr: ThresholdSpec = 0.5,
                 ignore_band: Optional[Sequence[ThresholdSpec]] = None,
                 refiner: Optional[Union[dict, torch.nn.Module]] = None,
                 refiner_thr: Optional[Dict[str, ThresholdSpec]] = None,
                 class_reduce: str = 'max',
                 valid_mask_mode: str = 'resize',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if valid_mask_mode not in VALID_MASK_MODES:
            raise ValueError(f'valid_mask_mode must be one of {VALID_MASK_MODES}, '
                             f'got {valid_mask_mode!r}')
        self.cam = cam
        self.multi_scale = dict(multi_scale) if multi_scale is not None else None
        self.norm = norm
        self.size = size
        self.bg_thr = bg_thr
        self.ignore_band = tuple(ignore_band) if ignore_band is not None else None
        self.refiner = MODELS.build(refiner) if isinstance(refiner, dict) else refiner
        self.valid_mask_mode = valid_mask_mode
        if self.ignore_band is not None and len(self.ignore_band) != 2:
            raise ValueError(f'ignore_band must be (low, high), got {ignore_band}')
        self._bg = Threshold(bg_thr, class_reduce)
        self._band = None if self.ignore_band is None else tuple(
            Threshold(t, class_reduce) for t in self.ignore_band)
        self._refiner_thr = {k: Threshold(v, class_reduce) for k, v in (refiner_thr or {}).items()}

    def thresholds(self, ctx: TrainContext) -> Tuple:
        """``(bg, band, refiner state thresholds)`` at ``ctx.iter``: floats or (B,)
        per-image tensors; ``band`` is None or ``(low, high)``."""
        labels = ctx.img_labels
        bg = self._bg(ctx.iter, labels)
        band = None if self._band is None else tuple(t(ctx.iter, labels) for t in self._band)
        extra = {k: t(ctx.iter, labels) for k, t in self._refiner_thr.items()}
        return bg, band, extra

    def multi_scale_requests(self) -> List[tuple]:
        return [(self.cam, self.multi_scale)] if self.multi_scale is not None else []

    def label_size(self, ctx: TrainContext) -> Tuple[int, int]:
        if self.size is None:
            return tuple(ctx.inputs.shape[-2:])
        if self.size == 'cam':
            return tuple(ctx.require('cams', self.cam).shape[-2:])
        return tuple(self.size)

    def cams(self, ctx: TrainContext) -> Tensor:
        """(B, C, H, W) normalised CAMs at the input size, not label-masked."""
        if self.multi_scale is not None:
            return get_multi_scale_cams(ctx, self.cam, self.multi_scale)
        cams = F.interpolate(
            ctx.require('cams', self.cam).detach(),
            size=ctx.inputs.shape[-2:],
            mode='bilinear',
            align_corners=False)
        return normalize_cams(F.relu(cams), self.norm)

    @torch.no_grad()
    def forward(self, ctx: TrainContext) -> Tensor:
        """(B, h, w) long labels: 0 bg, 1..C fg, 255 ignore."""
        labels = ctx.img_labels
        cams = self.cams(ctx)
        size = self.label_size(ctx)
        if tuple(cams.shape[-2:]) != size:
            cams = F.interpolate(cams, size=size, mode='bilinear', align_corners=False)
        valid = valid_mask_at(ctx.valid_mask, size, self.valid_mask_mode)
        cams = cams * labels[..., None, None].to(cams)
        bg, band, extra = self.thresholds(ctx)
        if self.refiner is not None:
            img = ctx.img
            if tuple(img.shape[-2:]) != size:
                raise ValueError(
                    f'a refiner needs labels at the image size {tuple(img.shape[-2:])}, '
                    f'got size={size}')
            if not isinstance(bg, float):
                raise ValueError('a refiner\'s final bg_thr must be one number; give '
                                 'per-image thresholds to the refiner with refiner_thr')
            state = self.refiner(
                dict(img=img, cams=cams, img_labels=labels, valid_mask=valid, **extra))
            return final_label(state, bg)
        thrs = (bg, ) + (band or ())
        if all(isinstance(t, float) for t in thrs):
            return cam_to_label(cams, labels, bg_thr=bg, ignore_band=band, valid_mask=valid)
        # per-image thresholds (DuPL's cam_to_label_dynamic_cls): one image at a time
        out = []
        for i in range(cams.shape[0]):
            pick = [t if isinstance(t, float) else float(t[i]) for t in thrs]
            out.append(
                cam_to_label(
                    cams[i:i + 1],
                    labels[i:i + 1],
                    bg_thr=pick[0],
                    ignore_band=None if band is None else tuple(pick[1:]),
                    valid_mask=None if valid is None else valid[i:i + 1]))
        return torch.cat(out, 0)
