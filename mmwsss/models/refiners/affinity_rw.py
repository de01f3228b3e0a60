"""AffinityNet (PSA) refiners: the random walk (``infer_aff.py``) and the
offline affinity-label construction from two dCRF outputs (``infer_cls.py``)."""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.utils.affinity_labels import combine_psa_labels
from mmwsss.registry import MODELS
from ..utils.cam import add_background, scores_to_label
from .base import BaseRefiner, RefineState
from .random_walk import (RW_MODES, build_frozen_model, feature_affinity, image_to_input,
                          pair_offsets, pair_valid_mask, preprocessor_mean_std, random_walk_active)


def _masked_cams(state: RefineState) -> Tensor:
    cams = state['cams'].float()
    labels = state.get('img_labels')
    if labels is not None:
        # PSA/IRN keep only the labelled classes' CAMs
        cams = cams * labels[..., None, None].to(cams.dtype)
    return cams


def active_fg(state: RefineState) -> Tuple[Tensor, Tensor]:
    """The labelled, non-zero CAM channels only: ``(fg (B, K, H, W), keep (K,))``.

    Zero channels stay zero under a random walk, so the walks run on these
    (and build full-resolution temporaries for these) only.
    """
    cams = state['cams']
    labels = state.get('img_labels')
    active = cams.flatten(2).abs().amax(-1) > 0
    if labels is not None:
        active = active & (labels > 0)
    keep = active.any(0).nonzero().flatten()
    fg = cams[:, keep].float()
    if labels is not None:
        fg = fg * labels[:, keep, None, None].to(fg.dtype)
    return fg, keep


def psa_infer_aff_reference(aff_feats: Tensor,
                            cams: Tensor,
                            beta: float = 8.,
                            logt: int = 8,
                            alpha: float = 16.,
                            radius: int = 5,
                            stride: int = 8) -> Tensor:
    """PSA's ``infer_aff.py`` walk for one image, written as the official code
    does it: a dense matrix built from ``get_indices_of_pairs`` (sources only in
    the cropped region), A^beta, column-normalised, squared ``logt`` times.

    Args:
        aff_feats: (D, h, w) affinity features, h = ceil(H / stride) (PSA's
            ``Net.forward(x, to_dense=True)`` before the pairing).
        cams: (C, H, W) CAMs of the labelled classes (``cam_full_arr[1:]``).
        beta, logt, alpha, radius, stride: as :class:`AffinityRandomWalk`.
    Returns:
        (1 + C, H, W) walked scores (bg first), before the argmax.
    """
    d, h, w = aff_feats.shape
    height, width = cams.shape[-2:]
    # infer_aff.py: bg = (1 - max cam)^alpha at the image size, then everything
    # zero-padded to the feature grid (bg included), avg-pooled by the stride
    scores = torch.cat([(1 - cams.max(0, keepdim=True)[0])**alpha, cams], 0).float()
    scores = F.pad(scores, (0, w * stride - width, 0, h * stride - height))
    cam_vec = F.avg_pool2d(scores[None], stride, stride)[0].view(scores.shape[0], -1)
    # get_indices_of_pairs, spelled out (independent of pair_offsets / pair_indices)
    search_dst = [(0, x) for x in range(1, radius)] + [(y, x) for y in range(1, radius)
                                                       for x in range(-radius + 1, radius)
                                                       if x * x + y * y < radius * radius]
    rf = radius - 1
    full = torch.arange(h * w).view(h, w)
    ch, cw = h - rf, w - 2 * rf
    ind_from = full[:-rf, rf:-rf].reshape(-1)
    ind_to = torch.stack(
        [full[dy:dy + ch, rf + dx:rf + dx + cw].reshape(-1) for dy, dx in search_dst])
    ff = aff_feats.reshape(d, -1)[:, ind_from][:, None]  # (D, 1, M)
    ft = aff_feats.reshape(d, -1)[:, ind_to]  # (D, K, M)
    aff = torch.exp(-(ff - ft).abs().mean(0)).reshape(-1)  # (K * M,)
    src = ind_from[None].expand_as(ind_to).reshape(-1)
    dst = ind_to.reshape(-1)
    area = h * w
    eye = torch.arange(area)
    # PSA's sparse matrix: (from, to) and (to, from) pairs plus the identity
    rows = torch.cat([src, eye, dst])
    cols = torch.cat([dst, eye, src])
    vals = torch.cat([aff, torch.ones(area), aff])
    aff_mat = torch.zeros(area, area).index_put_((rows, cols), vals, accumulate=True)
    trans = aff_mat**beta
    trans = trans / trans.sum(0, keepdim=True)
    for _ in range(logt):
        trans = trans @ trans
    rw = (cam_vec @ trans).view(1, -1, h, w)
    rw = F.interpolate(rw, size=(h * stride, w * stride), mode='bilinear', align_corners=False)
    return rw[0, :, :height, :width]


@MODELS.register_module()
class AffinityRandomWalk(BaseRefiner):
    """PSA random walk on AffinityNet's pair affinities.

    Steps (``infer_aff.py``): pad the image to a multiple of 8; affinities
    a_ij = exp(-mean_c |f_i - f_j|) within ``radius`` on the stride-8 features
    (identity + symmetric pairs), A^beta, column-normalised T; scores = [bg =
    (1 - max_c cam)^alpha, cams] zero-padded to the same multiple of 8 (the bg
    channel too), AvgPool 8; scores @ T^(2^logt); bilinear upsampling
    (align_corners=False) to the padded size, crop, argmax.

    Reads ``img`` and ``cams`` (+ ``img_labels``); sets ``scores`` (B, 1 + C,
    H, W) and ``label``. Without a model, reads ``aff_feats`` (B, D,
    ceil(H/8), ceil(W/8)) from the state (for tests / precomputed features).

    Args:
        model: the trained :class:`AffinityNet`: a module, a model config with
            an optional ``checkpoint`` key, or ``dict(config=..., checkpoint=...)``.
        beta: affinity power (8).
        logt: the walk takes 2^logt steps (PSA 8, SEAM 6).
        alpha: background power (PSA 16, SEAM 6).
        radius: pair radius on the stride-8 map (5).
        stride: stride of the affinity features (8).
        mode: ``'local'`` (default, fastest on CPU), ``'sparse'`` or
            ``'dense'`` (the official dense matrix power; same result).
        psa_border_pairs: keep only the pairs whose source lies in PSA's
            cropped region (``get_indices_of_pairs``), PSA's rule and the
            default: the official code has no pair between two pixels of the
            last r - 1 rows or of the first / last r - 1 columns (it checks
            ``infer_aff.py``, see :func:`psa_infer_aff_reference`). False uses
            every pair within the radius, as the paper's text describes.
        mean, std: RGB normalisation of the uint8 image; default: the model's
            data preprocessor (assumed to output RGB), else ImageNet.
    """

    def __init__(self,
                 model: Union[dict, torch.nn.Module, None] = None,
                 beta: float = 8.,
                 logt: int = 8,
                 alpha: float = 16.,
                 radius: int = 5,
                 stride: int = 8,
                 mode: str = 'local',
                 psa_border_pairs: bool = True,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if mode not in RW_MODES:
            raise ValueError(f"unknown random-walk mode '{mode}', expected one of {RW_MODES}")
        self.model = build_frozen_model(model)
        self.beta = beta
        self.logt = logt
        self.alpha = alpha
        self.radius = radius
        self.offsets = pair_offsets(radius)
        self.stride = stride
        self.mode = mode
        self.psa_border_pairs = psa_border_pairs
        self.norm = preprocessor_mean_std(self.model, mean, std)

    def affinity_features(self, state: RefineState, size) -> Tensor:
        """(B, D, h, w) affinity features: from the model, else ``aff_feats``."""
        if self.model is None:
            feats = state.get('aff_feats')
            if feats is None:
                raise KeyError("AffinityRandomWalk has no model and the state has no "
                               "'aff_feats'")
        else:
            img = state.get('img')
            if img is None:
                raise KeyError("AffinityRandomWalk needs 'img' in the refine state")
            x = image_to_input(img, **self.norm)
            h, w = x.shape[-2:]
            # PSA pads the normalised image with zeros to a multiple of 8
            x = F.pad(x, (0, size[1] * self.stride - w, 0, size[0] * self.stride - h))
            feats = self.model.extract_aff_feat(x)
        if tuple(feats.shape[-2:]) != tuple(size):
            raise ValueError(f'affinity features have size {tuple(feats.shape[-2:])}, '
                             f'expected {tuple(size)} (CAM size / {self.stride}, rounded up)')
        if torch.isnan(feats).any():
            raise ValueError('affinity features contain NaN values')
        return feats

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        cams = state['cams']
        b, c, h, w = cams.shape
        size = (math.ceil(h / self.stride), math.ceil(w / self.stride))
        feats = self.affinity_features(state, size)
        aff = feature_affinity(feats.float(), self.offsets)
        if self.psa_border_pairs:
            aff = aff * pair_valid_mask(
                size, self.offsets, crop_from=True, device=aff.device).to(aff.dtype)
        # only bg and the labelled classes with any activation are walked: zero
        # channels stay zero, and the full-resolution temporaries shrink
        fg, keep = active_fg(state)
        scores = add_background(fg, power=self.alpha) if keep.numel() else \
            torch.ones(b, 1, h, w, device=cams.device)
        ph, pw = size[0] * self.stride, size[1] * self.stride
        scores = F.pad(scores, (0, pw - w, 0, ph - h))
        small = F.avg_pool2d(scores, self.stride, self.stride)
        rw = random_walk_active(small, aff, self.offsets, self.beta, self.logt, self.mode)
        rw = F.interpolate(rw, size=(ph, pw), mode='bilinear', align_corners=False)
        out = cams.new_zeros(b, c + 1, h, w, dtype=rw.dtype)
        out[:, 0] = rw[:, 0, :h, :w]
        out[:, keep + 1] = rw[:, 1:, :h, :w]
        state['scores'] = out
        state['label'] = scores_to_label(out, state.get('img_labels'))
        return state


@MODELS.register_module()
class PSAAffinityLabel(BaseRefiner):
    """Offline AffinityNet labels from two dCRF outputs of the CAMs.

    For each background power alpha in (alpha_la, alpha_ha): scores = [(1 -
    max_c cam)^alpha, cams] -> dense CRF (PSA's ``crf_inference``: 10 iters,
    gaussian 3/3, bilateral 80/13/10) -> argmax. Then
    :func:`combine_psa_labels`: la's fg classes, 0 where ha is bg, 255 (ignore)
    in between. Write the result as PNG and train :class:`AffinityNet` on it.

    Args:
        crf: DenseCRF refiner config (built through the registry; it gets
            ``scores`` = [bg, cams] and must return ``scores`` or ``label``),
            or None to skip the CRF (argmax of the scores directly).
        alpha_la: low background power (4, PSA and SEAM).
        alpha_ha: high background power (32 PSA, 24 SEAM).
    """

    def __init__(self,
                 crf: Optional[dict] = dict(type='DenseCRF', preset='psa', output='scores'),
                 alpha_la: float = 4.,
                 alpha_ha: float = 32.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if alpha_la >= alpha_ha:
            raise ValueError(f'alpha_la ({alpha_la}) must be below alpha_ha ({alpha_ha})')
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf
        self.alpha_la = alpha_la
        self.alpha_ha = alpha_ha

    def _crf_label(self, state: RefineState, scores: Tensor) -> Tensor:
        sub = dict(state, scores=scores, label=None)
        if self.crf is not None:
            sub = self.crf(sub)
        if sub.get('scores') is not None:
            return scores_to_label(sub['scores'], state.get('img_labels'))
        return sub['label']

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        cams = _masked_cams(state)
        la = self._crf_label(state, add_background(cams, power=self.alpha_la))
        ha = self._crf_label(state, add_background(cams, power=self.alpha_ha))
        state['label'] = combine_psa_labels(la, ha)
        state['scores'] = None
        return state
