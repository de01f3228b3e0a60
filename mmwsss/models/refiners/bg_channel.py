"""Refiners for CAMs that carry their own background channel (SIPE's IS-CAM).

The project's IRN refiners pad a CONSTANT background score (``IRLabel``: 0.30 / 0.05,
``IRNRandomWalk``: 0.25). SIPE keeps its learned bg channel all the way (``cam2ir.py``,
``make_seg_labels.py``). The bg channel reaches the refine chain as the state's
``scores`` (B, 1 + C, H, W): :class:`BackgroundFromMeta` builds it from the ``bg_cam``
metainfo that :class:`~mmwsss.models.segmentors.PrototypeCAMWSSS` writes (the state of
``tools/generate_pseudo_labels.py`` holds img, cams, img_labels and meta only).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.utils.affinity_labels import combine_ir_labels
from mmwsss.registry import MODELS
from ..utils.cam import scores_to_label
from .base import BaseRefiner, RefineState
from .irn_rw import IRNRandomWalk
from .random_walk import boundary_affinity, random_walk


def _labelled(scores: Tensor, img_labels: Optional[Tensor]) -> Tensor:
    """Zero the absent fg channels (the official code keeps only ``keys``)."""
    if img_labels is None:
        return scores
    keep = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1)
    return scores * keep[..., None, None].to(scores.dtype)


@MODELS.register_module()
class BackgroundFromMeta(BaseRefiner):
    """``scores = [meta['bg_cam'], cams]`` (B, 1 + C, H, W); ``label`` = its argmax.

    Args:
        key: the metainfo key holding the (H, W) background map.
    """

    def __init__(self, key: str = 'bg_cam', init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.key = key

    def refine(self, state: RefineState) -> RefineState:
        cams = state['cams'].float()
        metas = state.get('meta') or []
        if len(metas) != cams.shape[0] or any(self.key not in m for m in metas):
            raise KeyError(f"BackgroundFromMeta needs metainfo '{self.key}' for every image "
                           '(predicted by PrototypeCAMWSSS with test_cfg.label_cam)')
        bg = torch.stack([torch.as_tensor(m[self.key]) for m in metas]).to(cams)
        if bg.shape[-2:] != cams.shape[-2:]:
            raise ValueError(f'bg map {tuple(bg.shape[-2:])} and CAMs '
                             f'{tuple(cams.shape[-2:])} differ in size')
        state['scores'] = torch.cat([bg[:, None], cams], 1)
        state['label'] = scores_to_label(state['scores'], state.get('img_labels'))
        return state


def bg_scaled_label(scores: Tensor, img_labels: Optional[Tensor], bg_scale: float) -> Tensor:
    """Argmax of ``scores`` with the bg channel times ``bg_scale`` (absent classes lose)."""
    s = scores.clone()
    s[:, 0] = s[:, 0] * bg_scale
    return scores_to_label(s, img_labels)


@MODELS.register_module()
class BGChannelIRLabel(BaseRefiner):
    """SIPE's ``cam2ir.py``: IR labels from scores with a learned bg channel.

    fg_conf = CRF(argmax scores), bg_conf = CRF(argmax scores with bg x ``bg_scale``)
    (dense CRF with a label unary, IRN's ``crf_inference_label``), then IRN's combination
    (:func:`combine_ir_labels`: 255 where fg_conf is bg, 0 where both are bg).

    Args:
        crf: DenseCRF config with the label unary (None: no CRF).
        bg_scale: factor of the bg channel for the bg-confident label (0.5).
    """

    def __init__(self,
                 crf: Optional[dict] = dict(type='DenseCRF', preset='irn_label', output='label'),
                 bg_scale: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf
        self.bg_scale = bg_scale

    def _crf(self, state: RefineState, label: Tensor) -> Tensor:
        if self.crf is None:
            return label
        sub = self.crf(dict(state, label=label, scores=None))
        if sub.get('label') is not None:
            return sub['label']
        return scores_to_label(sub['scores'], state.get('img_labels'))

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        scores = state.get('scores')
        if scores is None:
            raise KeyError("BGChannelIRLabel needs 'scores' (bg + fg); put BackgroundFromMeta "
                           'first in the chain')
        labels = state.get('img_labels')
        fg_conf = self._crf(state, bg_scaled_label(scores, labels, 1.0))
        bg_conf = self._crf(state, bg_scaled_label(scores, labels, self.bg_scale))
        state['label'] = combine_ir_labels(fg_conf, bg_conf)
        state['scores'] = None
        return state


@MODELS.register_module()
class BGChannelRandomWalk(IRNRandomWalk):
    """SIPE's ``make_seg_labels.py``: the IRN walk of ALL channels, bg included.

    scores (bg + labelled fg) bilinearly resized to the stride-4 boundary grid, raised to
    ``power`` (1.5), walked (x (1 - boundary), T^(2^exp_times)), upsampled x4 and cropped,
    divided by the global max, argmax. No constant background (``bg_thr`` is unused).
    Other arguments: :class:`IRNRandomWalk`.
    """

    def __init__(self, *args, power: float = 1.5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.power = power

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        scores = state.get('scores')
        if scores is None:
            raise KeyError("BGChannelRandomWalk needs 'scores' (bg + fg); put "
                           'BackgroundFromMeta first in the chain')
        scores = _labelled(scores.float(), state.get('img_labels'))
        b, k, h, w = scores.shape
        size = (-(-h // self.stride), -(-w // self.stride))
        edge = self.boundary_map(state, size)
        # official order: resize to the boundary grid, then the power
        small = F.interpolate(scores, size=size, mode='bilinear', align_corners=False)**self.power
        aff = boundary_affinity(edge, self.radius)
        rw = random_walk(small * (1 - edge), aff, self.offsets, self.beta, self.exp_times,
                         self.mode)
        rw = F.interpolate(
            rw, scale_factor=self.stride, mode='bilinear', align_corners=False)[..., :h, :w]
        peak = rw.flatten(1).amax(1).clamp(min=torch.finfo(rw.dtype).tiny)
        out = rw / peak[:, None, None, None]
        state['scores'] = out
        state['label'] = scores_to_label(out, state.get('img_labels'))
        return state
