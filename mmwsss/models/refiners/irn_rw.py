"""IRN refiners: the boundary-guided random walk (``step/make_sem_seg_labels.py``
+ ``misc/indexing.py: propagate_to_edge``) and the offline IR labels
(``step/cam_to_ir_label.py``)."""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.utils.affinity_labels import combine_ir_labels
from mmwsss.registry import MODELS
from ..utils.cam import add_background, scores_to_label
from .affinity_rw import _masked_cams, active_fg
from .base import BaseRefiner, RefineState
from .random_walk import (RW_MODES, boundary_affinity, build_frozen_model, image_to_input,
                          pair_offsets, preprocessor_mean_std, random_walk)


@MODELS.register_module()
class IRNRandomWalk(BaseRefiner):
    """IRN random walk on class-boundary affinities.

    Steps: boundary = sigmoid(mean of the boundary logits of the image and of
    its h-flip) at stride 4 (size ceil(H/4)); affinity of a pair within
    ``radius`` = (1 - max boundary on the path between them), pairs leaving
    the map get 0 (IRN pads the boundary with 1); A^beta, column-normalised T;
    x = cams at stride 4 (bilinear, align_corners=False) * (1 - boundary);
    x @ T^(2^exp_times); upsample x4 (bilinear, align_corners=False), crop,
    divide by the global max (per image), pad bg = ``bg_thr`` and argmax.

    Reads ``img`` and ``cams`` (+ ``img_labels``); sets ``scores`` (B, 1 + C,
    H, W) (bg channel = ``bg_thr``) and ``label``. Without a model, reads
    ``boundary`` (B, 1, ceil(H/4), ceil(W/4)) probabilities from the state.

    Args:
        model: the trained :class:`IRN` (module, model config with optional
            ``checkpoint``, or ``dict(config=..., checkpoint=...)``).
        beta: affinity power (10).
        exp_times: the walk takes 2^exp_times steps (8).
        radius: pair radius on the stride-4 map (5).
        bg_thr: constant background score after max-normalisation (0.25,
            ``sem_seg_bg_thres``).
        stride: boundary-map stride (4).
        size_divisor: the image is zero-padded (after normalisation) to a
            multiple of this before the network. IRN pads every image to its
            512 crop size: ``size_divisor=512`` reproduces that for images up
            to 512 pixels.
        mode: ``'local'`` (default), ``'sparse'`` or ``'dense'``.
        flip: merge the h-flipped image's boundary logits (mean), as IRN.
        mean, std: RGB normalisation of the uint8 image (default: the model's
            data preprocessor, else ImageNet).
    """

    def __init__(self,
                 model: Union[dict, torch.nn.Module, None] = None,
                 beta: float = 10.,
                 exp_times: int = 8,
                 radius: int = 5,
                 bg_thr: float = 0.25,
                 stride: int = 4,
                 size_divisor: int = 16,
                 mode: str = 'local',
                 flip: bool = True,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if mode not in RW_MODES:
            raise ValueError(f"unknown random-walk mode '{mode}', expected one of {RW_MODES}")
        self.model = build_frozen_model(model)
        self.beta = beta
        self.exp_times = exp_times
        self.radius = radius
        self.offsets = pair_offsets(radius)
        self.bg_thr = bg_thr
        self.stride = stride
        self.size_divisor = size_divisor
        self.mode = mode
        self.flip = flip
        self.norm = preprocessor_mean_std(self.model, mean, std)

    def boundary_map(self, state: RefineState, size) -> Tensor:
        """(B, 1, h, w) boundary probabilities: from the model (image + flip), else ``boundary``."""
        if self.model is None:
            edge = state.get('boundary')
            if edge is None:
                raise KeyError("IRNRandomWalk has no model and the state has no 'boundary'")
            if edge.dim() == 3:
                edge = edge[:, None]
        else:
            img = state.get('img')
            if img is None:
                raise KeyError("IRNRandomWalk needs 'img' in the refine state")
            x = image_to_input(img, **self.norm)
            n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
            if self.flip:
                x = torch.cat([x, x.flip(-1)])
            # as IRN: flip first, then zero-pad right/bottom, crop the logits
            # to ceil(H/4) x ceil(W/4), then flip the second copy back
            d = self.size_divisor
            x = F.pad(x, (0, math.ceil(w / d) * d - w, 0, math.ceil(h / d) * d - h))
            logits = self.model.predict_boundary(x)[..., :size[0], :size[1]]
            if self.flip:
                logits = (logits[:n] + logits[n:].flip(-1)) / 2
            edge = torch.sigmoid(logits)
        if tuple(edge.shape[-2:]) != tuple(size):
            raise ValueError(f'boundary map has size {tuple(edge.shape[-2:])}, expected '
                             f'{tuple(size)} (CAM size / {self.stride}, rounded up)')
        if torch.isnan(edge).any():
            raise ValueError('boundary map contains NaN values')
        return edge.float()

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        cams = state['cams']
        b, c, h, w = cams.shape
        size = (math.ceil(h / self.stride), math.ceil(w / self.stride))
        edge = self.boundary_map(state, size)
        scores = cams.new_zeros(b, c + 1, h, w, dtype=torch.float32)
        scores[:, 0] = self.bg_thr
        fg, keep = active_fg(state)  # zero channels stay zero: walk the others
        if keep.numel():  # an image without any activation stays all background
            small = F.interpolate(fg, size=size, mode='bilinear', align_corners=False)
            aff = boundary_affinity(edge, self.radius)
            rw = random_walk(small * (1 - edge), aff, self.offsets, self.beta, self.exp_times,
                             self.mode)
            rw = F.interpolate(
                rw, scale_factor=self.stride, mode='bilinear', align_corners=False)[..., :h, :w]
            # divide by the global max per image (guarded against 0 / 0)
            peak = rw.flatten(1).amax(1).clamp(min=torch.finfo(rw.dtype).tiny)
            scores[:, keep + 1] = rw / peak[:, None, None, None]
        state['scores'] = scores
        state['label'] = scores_to_label(scores, state.get('img_labels'))
        return state


@MODELS.register_module()
class IRLabel(BaseRefiner):
    """Offline IRN inter-pixel-relation labels (``cam_to_ir_label.py``).

    For each constant background in (fg_thr 0.30, bg_thr 0.05): argmax of
    [bg, cams] -> dense CRF with a label unary (``crf_inference_label``: t 10,
    gt_prob 0.7, gaussian 3/3, bilateral 50/5/10). Then
    :func:`combine_ir_labels`: conf = fg-confident label, 255 where it is bg,
    0 where both are bg. IRN uses the high-resolution multi-scale CAMs.

    Args:
        crf: DenseCRF refiner config with the label unary (built through the
            registry; it gets ``label`` and must return ``label`` or
            ``scores``), or None to skip the CRF.
        fg_thr: ``conf_fg_thres`` (0.30).
        bg_thr: ``conf_bg_thres`` (0.05).
    """

    def __init__(self,
                 crf: Optional[dict] = dict(type='DenseCRF', preset='irn_label', output='label'),
                 fg_thr: float = 0.30,
                 bg_thr: float = 0.05,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if bg_thr >= fg_thr:
            raise ValueError(f'bg_thr ({bg_thr}) must be below fg_thr ({fg_thr})')
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf
        self.fg_thr = fg_thr
        self.bg_thr = bg_thr

    def _crf_label(self, state: RefineState, bg: float) -> Tensor:
        cams = _masked_cams(state)
        label = scores_to_label(add_background(cams, bg=bg), state.get('img_labels'))
        sub = dict(state, label=label, scores=None)
        if self.crf is not None:
            sub = self.crf(sub)
        if sub.get('label') is not None:
            return sub['label']
        return scores_to_label(sub['scores'], state.get('img_labels'))

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        fg_conf = self._crf_label(state, self.fg_thr)
        bg_conf = self._crf_label(state, self.bg_thr)
        state['label'] = combine_ir_labels(fg_conf, bg_conf)
        state['scores'] = None
        return state
