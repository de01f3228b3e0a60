"""FMA (Yang & Gong, WACV'24, "Foundation Model Assisted WSSS"): the SAM side and the
seeding rules, each a plain function on tensors with its shapes documented.

* :func:`rock_sand_water_filter` -- the "rock-sand-water" filter of FMA's ``SamAuto``:
  SAM's three multimask outputs of a point are levels 0 (sub-part), 1 (part), 2 (whole);
  levels are processed large to small and a smaller-level mask survives only if no
  already kept mask covers more than ``thresh`` of it.
* :class:`FMAMaskGenerator` / :class:`FMASegmentAnything` -- SAM's automatic mask
  generator with FMA's per-level score offsets (``score_thresh_offset`` on the IoU
  filter, ``score_nms_offset`` on the in-crop box NMS, ``stability_score_bias``), the
  level of every mask recorded, and the filter above at the end.
* :data:`FMA_AMG_PRESET` -- FMA's VOC/COCO generator settings (pattern ``l2_nmsf_s1_rsw3``).
* :func:`fma_sams_seed` -- SAMS seeding (``seed_anns/score_cw.py::gather_norm_bg_argmax``):
  CAM scores averaged per SAM mask, one label per mask, masks painted by (level, conf).
* :func:`fma_caa` -- FMA's parametrisation of CLIP-ES's class-aware attention affinity
  (``seeding/aff/caller.py::att_cam``): Sinkhorn rounds, matrix power, box threshold, and
  whether the affinity is applied to the min-max normalised score or to the raw CAM.
* :func:`save_fma_masks` / :func:`load_fma_masks` -- the offline mask store (one
  :class:`~.mask_cache.MaskCache` entry per image, keyed by the image stem; bit-packed
  masks + levels, no pickles).
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from .clip_es_ops import caa_refine, cam_box_mask, sinkhorn_affinity
from .mask_cache import MaskCache
from .sam import IoUFirstMaskGenerator, SegmentAnything

__all__ = [
    'FMA_AMG_PRESET', 'rock_sand_water_filter', 'fma_sams_seed', 'fma_score', 'fma_caa',
    'FMAMaskGenerator', 'FMASegmentAnything', 'save_fma_masks', 'load_fma_masks'
]

# FMA's SamAuto settings for VOC and COCO (README "SAM quasi-superpixels", pattern
# l2_nmsf_s1_rsw3). Levels 0, 1, 2 = SAM's three multimask outputs of one point prompt.
FMA_AMG_PRESET = dict(
    points_per_side=32,
    pred_iou_thresh=0.86,
    stability_score_thresh=0.92,
    box_nms_thresh=0.7,
    crop_n_layers=1,
    crop_nms_thresh=0.7,
    crop_overlap_ratio=512 / 1500,
    crop_n_points_downscale_factor=2,
    min_mask_region_area=100,
    score_thresh_offset=(0.0, 0.0, 0.1),
    score_nms_offset=(0.0, 0.0, 1.0),
    stability_score_bias=(0.0, 0.0, 0.0),
    rock_sand_water_thresh=0.3,
    rock_sand_water_chunk_size=50)

_FMA_ONLY_KEYS = ('score_thresh_offset', 'score_nms_offset', 'stability_score_bias',
                  'rock_sand_water_thresh', 'rock_sand_water_chunk_size')


# ------------------------------------------------------------ rock-sand-water
def _intersection_areas(small: Tensor, big: Tensor, chunk_size: int = 0) -> Tensor:
    """(N1, N2) long ``|small_i & big_j|`` of (N1, H, W) and (N2, H, W) bool masks,
    ``chunk_size`` rows of ``small`` at a time (0: all at once).

    Computed as a matrix product of the flattened {0, 1} masks (the official code forms
    the (chunk, N2, H, W) intersection tensor; same counts, much faster): exact in
    float32 up to 2^24 pixels, float64 above.
    """
    n1, n2 = small.shape[0], big.shape[0]
    if n1 == 0 or n2 == 0:
        return torch.zeros(n1, n2, dtype=torch.long, device=small.device)
    dtype = torch.float32 if small[0].numel() < 2**24 else torch.float64
    rhs = big.flatten(1).to(dtype).t()  # (HW, N2)
    step = n1 if chunk_size <= 0 else chunk_size
    rows = [(small[i:i + step].flatten(1).to(dtype) @ rhs).round().long()
            for i in range(0, n1, step)]
    return torch.cat(rows, 0)


def rock_sand_water_filter(masks: Tensor,
                           levels: Tensor,
                           thresh: float = 0.3,
                           chunk_size: int = 50,
                           num_levels: int = 3) -> Tensor:
    """FMA's rock-sand-water filter (``SamAuto.rock_sand_water``).

    Levels are processed from ``num_levels - 1`` down to 0. All masks of the highest
    level are kept; a mask ``m`` of a lower level is kept only if its largest recall
    ``|m & M| / |m|`` against every mask ``M`` kept so far (all higher levels' kept
    masks) is ``< thresh``. If nothing is kept yet when a level comes (no mask of the
    higher levels), that level is kept whole, as in the official code. An empty mask
    (0/0 recall = NaN) is dropped, as there.

    Args:
        masks: (N, H, W) bool.
        levels: (N,) int levels in [0, num_levels).
        thresh: recall threshold (FMA: 0.3).
        chunk_size: rows per chunk of the intersection (FMA's
            ``rock_sand_water_chunk_size`` 50; 0 = no chunking). Same result.
    Returns:
        (K,) long indices into ``masks`` of the kept masks in the official output order:
        the highest level first, then each lower level's survivors, each level in its
        input order.
    """
    masks = masks.bool()
    levels = torch.as_tensor(levels, device=masks.device).long()
    if masks.dim() != 3 or levels.shape != masks.shape[:1]:
        raise ValueError(f'masks (N, H, W) and levels (N,) expected, got {tuple(masks.shape)} '
                         f'and {tuple(levels.shape)}')
    kept = torch.zeros(0, dtype=torch.long, device=masks.device)
    for level in range(num_levels - 1, -1, -1):
        idx = (levels == level).nonzero().flatten()
        if idx.numel() == 0:
            continue
        if kept.numel() == 0:
            kept = idx
            continue
        inter = _intersection_areas(masks[idx], masks[kept], chunk_size)  # (n, K)
        areas = masks[idx].flatten(1).sum(1, dtype=torch.long)  # (n,)
        max_recall = (inter.float() / areas[:, None]).amax(1)
        kept = torch.cat([kept, idx[max_recall < thresh]])
    return kept


# ------------------------------------------------------------------ generator
class FMAMaskGenerator(IoUFirstMaskGenerator):
    """SAM automatic masks with FMA's per-level offsets, levels and filter.

    Per point prompt SAM returns three masks, levels 0, 1, 2. The predicted IoU plus
    ``score_thresh_offset[level]`` must exceed ``pred_iou_thresh``; the predicted IoU
    plus ``score_nms_offset[level]`` is the score of the in-crop box NMS (FMA: +1.0
    for level 2, so whole-object masks win the NMS); the stability score plus
    ``stability_score_bias[level]`` must reach ``stability_score_thresh``. The
    IoU filter runs before upsampling (:class:`IoUFirstMaskGenerator`; same masks).
    After SAM's small-region post-processing, :func:`rock_sand_water_filter` runs
    when ``rock_sand_water_thresh`` is set.

    Implementation note: the in-crop NMS of segment-anything reads ``iou_preds``; this
    generator stores the NMS score there and the raw predicted IoU under
    ``raw_iou_preds`` (returned as ``scores``), so the stock ``_process_crop`` /
    ``_generate_masks`` / ``postprocess_small_regions`` are used unchanged.
    """

    level_num = 3

    def __init__(self,
                 model,
                 score_thresh_offset: Sequence[float] = (0.0, 0.0, 0.0),
                 score_nms_offset: Sequence[float] = (0.0, 0.0, 0.0),
                 stability_score_bias: Sequence[float] = (0.0, 0.0, 0.0),
                 rock_sand_water_thresh: Optional[float] = None,
                 rock_sand_water_chunk_size: int = 0,
                 **amg_kwargs) -> None:
        super().__init__(model, **amg_kwargs)
        offsets = [score_thresh_offset, score_nms_offset, stability_score_bias]
        for name, val in zip(_FMA_ONLY_KEYS[:3], offsets):
            if len(tuple(val)) != self.level_num:
                raise ValueError(f'{name} needs {self.level_num} values, got {val}')
        self.score_thresh_offset = torch.tensor(score_thresh_offset, dtype=torch.float)
        self.score_nms_offset = torch.tensor(score_nms_offset, dtype=torch.float)
        self.stability_score_bias = torch.tensor(stability_score_bias, dtype=torch.float)
        self.rock_sand_water_thresh = rock_sand_water_thresh
        self.rock_sand_water_chunk_size = rock_sand_water_chunk_size

    def _process_batch(self, points: np.ndarray, im_size, crop_box, orig_size):
        from segment_anything.utils.amg import MaskData
        predictor = self.predictor
        model = predictor.model
        low_res, iou_preds = self._predict_points(points, im_size)  # (N, 3, h, w), (N, 3)
        dev = iou_preds.device
        thr_scores = (iou_preds + self.score_thresh_offset.to(dev)).flatten()
        nms_scores = (iou_preds + self.score_nms_offset.to(dev)).flatten()
        bias = self.stability_score_bias.to(dev).expand_as(iou_preds).flatten()
        level = torch.arange(3, device=dev).expand_as(iou_preds).flatten()
        low_res, raw_iou = low_res.flatten(0, 1), iou_preds.flatten()
        pts = torch.as_tensor(points.repeat(3, axis=0))
        keep = thr_scores > self.pred_iou_thresh if self.pred_iou_thresh > 0.0 \
            else torch.ones_like(thr_scores, dtype=torch.bool)
        low_res, raw_iou, nms_scores = low_res[keep], raw_iou[keep], nms_scores[keep]
        bias, level, pts = bias[keep], level[keep], pts[keep.cpu()]
        if low_res.shape[0]:
            masks = model.postprocess_masks(low_res[:, None], predictor.input_size,
                                            predictor.original_size)[:, 0]
        else:
            masks = low_res.new_zeros(0, *predictor.original_size)
        data = MaskData(
            masks=masks,
            iou_preds=nms_scores,
            raw_iou_preds=raw_iou,
            stability_bias=bias,
            level=level,
            points=pts)
        return self._finish_batch(data, crop_box, orig_size)

    def _finish_batch(self, data, crop_box, orig_size):
        """Upstream's tail of ``_process_batch`` with FMA's biased stability filter."""
        from segment_anything.utils.amg import (batched_mask_to_box, calculate_stability_score,
                                                is_box_near_crop_edge, mask_to_rle_pytorch,
                                                uncrop_masks)
        orig_h, orig_w = orig_size
        data['stability_score'] = calculate_stability_score(data['masks'],
                                                            self.predictor.model.mask_threshold,
                                                            self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            data.filter(data['stability_score'] +
                        data['stability_bias'] >= self.stability_score_thresh)
        data['masks'] = data['masks'] > self.predictor.model.mask_threshold
        data['boxes'] = batched_mask_to_box(data['masks'])
        keep = ~is_box_near_crop_edge(data['boxes'], crop_box, [0, 0, orig_w, orig_h])
        if not torch.all(keep):
            data.filter(keep)
        data['masks'] = uncrop_masks(data['masks'], crop_box, orig_h, orig_w)
        data['rles'] = mask_to_rle_pytorch(data['masks'])
        del data['masks']
        return data

    @torch.no_grad()
    def generate_masks(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        """Masks of one (H, W, 3) uint8 RGB image.

        Returns:
            dict with ``masks`` (N, H, W) bool, ``levels`` (N,) uint8, ``scores`` (N,)
            predicted IoU (without offsets), ``stability`` (N,), ``boxes`` (N, 4) xywh;
            after the rock-sand-water filter, in its output order.
        """
        from segment_anything.utils.amg import rle_to_mask
        h, w = image.shape[:2]
        data = self._generate_masks(image)
        if self.min_mask_region_area > 0:
            data = self.postprocess_small_regions(data, self.min_mask_region_area,
                                                  max(self.box_nms_thresh, self.crop_nms_thresh))
        n = len(data['rles'])
        masks = np.stack([rle_to_mask(r) for r in data['rles']]).astype(bool) if n \
            else np.zeros((0, h, w), bool)
        out = dict(
            masks=masks,
            levels=np.asarray(data['level'], np.uint8).reshape(n),
            scores=np.asarray(data['raw_iou_preds'], np.float32).reshape(n),
            stability=np.asarray(data['stability_score'], np.float32).reshape(n),
            boxes=np.asarray(data['boxes'], np.int64).reshape(n, 4))
        out['boxes'][:, 2:] -= out['boxes'][:, :2]  # xyxy -> xywh
        if self.rock_sand_water_thresh is not None and n:
            keep = rock_sand_water_filter(
                torch.from_numpy(masks).to(self.predictor.device),
                torch.from_numpy(out['levels'].astype(np.int64)), self.rock_sand_water_thresh,
                self.rock_sand_water_chunk_size, self.level_num).cpu().numpy()
            out = {k: v[keep] for k, v in out.items()}
        return out


@MODELS.register_module()
class FMASegmentAnything(SegmentAnything):
    """:class:`SegmentAnything` whose automatic masks come from :class:`FMAMaskGenerator`.

    ``amg_cfg`` takes segment-anything's generator keywords plus FMA's
    ``score_thresh_offset``, ``score_nms_offset``, ``stability_score_bias``,
    ``rock_sand_water_thresh`` and ``rock_sand_water_chunk_size``; ``amg_cfg='fma'``
    means :data:`FMA_AMG_PRESET`. :meth:`generate` also returns ``levels``.
    """

    def __init__(self, *args, amg_cfg=None, **kwargs) -> None:
        if amg_cfg == 'fma':
            amg_cfg = dict(FMA_AMG_PRESET)
        super().__init__(*args, amg_cfg=amg_cfg, **kwargs)

    @property
    def mask_generator(self) -> FMAMaskGenerator:
        if self._amg is None:
            self._amg = FMAMaskGenerator(self.sam, **self.amg_cfg)
            self._amg.predictor.transform = self.transform
        return self._amg

    @torch.no_grad()
    def generate(self, img: np.ndarray) -> Dict[str, np.ndarray]:
        """See :meth:`FMAMaskGenerator.generate_masks` (``img``: (H, W, 3) uint8 RGB)."""
        from .sam import _check_image
        return self.mask_generator.generate_masks(_check_image(img))


# ------------------------------------------------------------------ mask store
def save_fma_masks(cache_dir: str, stem: str, masks: np.ndarray, levels: np.ndarray,
                   **extras: np.ndarray) -> str:
    """Store one image's (N, H, W) bool masks and (N,) levels (atomic, bit-packed,
    no pickles) as the :class:`MaskCache` entry ``stem``; returns its path."""
    return MaskCache(cache_dir).put(
        stem, np.asarray(masks, bool), levels=np.asarray(levels, np.uint8), **extras)


def load_fma_masks(cache_dir: str, stem: str) -> Optional[Dict[str, np.ndarray]]:
    """The entry written by :func:`save_fma_masks` (``masks``, ``levels``, ...), or None."""
    if not osp.isdir(cache_dir):
        return None
    return MaskCache(cache_dir).get(stem)


# --------------------------------------------------------------------- seeding
def fma_score(cams: Tensor, eps: float = 1e-7) -> Tensor:
    """FMA's ``cam2score``: clamp at 0, then per-map min-max over the last two dims,
    ``(x - min) / (max - min + eps)``. (..., H, W) -> (..., H, W)."""
    x = cams.clamp(min=0)
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    return (x - lo) / (hi - lo + eps)


def fma_sams_seed(cams: Tensor,
                  masks: Tensor,
                  levels: Tensor,
                  bg_pow: float = 0.7,
                  fg_cls: Optional[Sequence[int]] = None,
                  eps: float = 1e-7) -> Tensor:
    """SAMS seeding: one label per SAM mask from the CAM, painted by priority.

    1. ``fg = ReLU(cams)``;
    2. per mask, the mean fg score inside it: (K, S);
    3. per class, min-max over the S masks (values clamped at 0, ``eps`` as FMA);
    4. ``bg = (1 - max_k score)^bg_pow``; argmax over [bg, fg_1..fg_K] gives the
       mask's label (bg = 0, class k -> ``fg_cls[k] + 1``), its value is ``conf``;
    5. masks sorted by (level ascending, conf ascending) -- a stable sort, ties keep
       the input order -- and painted in that order, so larger levels and higher
       confidence win where masks overlap; uncovered pixels are 0.

    Step 1 replaces FMA's ``norm_first`` score (clamp + min-max over H x W) by the
    ReLU: the min-max is an affine map per class, which the per-mask mean keeps and
    step 3 cancels (up to eps), as the official code notes.

    Args:
        cams: (K, H, W) CAMs (or fg scores) of the K present classes.
        masks: (S, H, W) bool SAM masks.
        levels: (S,) int mask levels (0, 1, 2).
        bg_pow: background power p (FMA VOC: 0.7).
        fg_cls: (K,) class indices of the CAM channels (0-based fg index); default
            ``range(K)``.
    Returns:
        (H, W) long label: 0 bg / uncovered, ``fg_cls[k] + 1`` for class k.
    """
    if masks.dim() != 3 or masks.shape[1:] != cams.shape[1:]:
        raise ValueError(f'masks {tuple(masks.shape)} do not match cams {tuple(cams.shape)}')
    k = cams.shape[0]
    fg_cls = torch.arange(k) if fg_cls is None else torch.as_tensor(list(fg_cls)).long()
    label = torch.zeros(cams.shape[1:], dtype=torch.long, device=cams.device)
    s = masks.shape[0]
    if s == 0 or k == 0:
        return label
    masks = masks.bool()
    fg = cams.float().clamp(min=0)
    areas = masks.flatten(1).sum(1).clamp(min=1).float()  # (S,)
    mean = torch.einsum('khw,shw->ks', fg, masks.float()) / areas  # (K, S)
    mean = mean.clamp(min=0)
    lo, hi = mean.amin(1, keepdim=True), mean.amax(1, keepdim=True)
    fg_score = (mean - lo) / (hi - lo + eps)
    bg = (1 - fg_score.amax(0, keepdim=True)).clamp(min=0).pow(bg_pow)
    score = torch.cat([bg, fg_score], 0)  # (1 + K, S)
    conf, idx = score.max(0)
    seeds = torch.cat([fg_cls.new_zeros(1), fg_cls + 1]).to(cams.device)[idx]  # (S,)
    levels = torch.as_tensor(levels, device=cams.device).long()
    order = torch.sort(conf, stable=True).indices
    order = order[torch.sort(levels[order], stable=True).indices]
    for i in order.tolist():
        label[masks[i]] = seeds[i]
    return label


# ------------------------------------------------------------------------ CAA
def fma_caa(cams: Tensor,
            attn: Tensor,
            sinkhorn_iters: int = 1,
            power: int = 2,
            box_thr: float = 0.4,
            at: str = 'score') -> Tensor:
    """FMA's ``att_cam``: CLIP-ES's CAA with FMA's parameters.

    ``score = fma_score(cams)``; affinity = ``sinkhorn_iters`` column/row rounds of the
    (merged) attention, symmetrised, to the matrix power ``power``; the box mask of
    ``scoremap2bbox(score, box_thr)`` zeroes the source columns; the affinity is
    applied to ``score`` (``at='score'``) or to the raw ``cams`` (``at='cam'``).
    CLIP-ES = (sinkhorn_iters 3, power 2, at 'cam' on its min-max Grad-CAM).
    ``power=0`` returns the score / cam unrefined, as the official code.

    Args:
        cams: (K, h, w) raw Grad-CAMs (no ReLU) on the patch grid.
        attn: (N, N) attention merged over the last layers (patch tokens only),
            N = h * w.
    Returns:
        (K, h, w) refined maps (not re-normalised).
    """
    if at not in ('score', 'cam'):
        raise ValueError(f"at must be 'score' or 'cam', got '{at}'")
    score = fma_score(cams)
    src = score if at == 'score' else cams
    if power == 0:
        return src
    if power < 1:
        raise ValueError(f'power must be >= 0, got {power}')
    # sinkhorn_affinity squares n_power times: T^(2^n); FMA's matrix_power(T, p).
    trans = sinkhorn_affinity(attn, sinkhorn_iters, n_power=0)
    trans = torch.linalg.matrix_power(trans, power)
    return caa_refine(src, trans, cam_box_mask(score.detach(), box_thr))


def merge_attention(attns: Sequence[Tensor], last_n: int = 8) -> Tensor:
    """(N, N) mean of the last ``last_n`` (1 + N, 1 + N) attention maps, CLS removed."""
    return torch.stack(list(attns)[-last_n:]).mean(0)[1:, 1:]


def upsample_and_normalise(maps: Tensor,
                           size: Tuple[int, int],
                           align_corners: bool = False) -> Tensor:
    """(K, h, w) -> (K, H, W): bilinear, clamp at 0, min-max per map (``fma_score``)."""
    up = F.interpolate(
        maps[None].float(), size=size, mode='bilinear', align_corners=align_corners)[0]
    return fma_score(up)
