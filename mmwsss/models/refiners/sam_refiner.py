"""SAM-enhanced pseudo labels (SEPL, Chen et al., arXiv 2305.05803) as a refiner.

Merge rule of the official ``merge/max_iou_imp2.py`` (default ``--method``). For each
foreground class i present in the pseudo label P, in ascending order, and every SAM
mask S not yet claimed by an earlier class:
    accept S for i  if  |P_i & S| / |S| > 0.5  (2|P_i & S| - |S| > 0)
                    or  |P_i & S| / |P_i| >= 0.85;
accepted masks are claimed (never offered to later classes). Where SAM gives no mask
the CAM label is kept: ``P_i & ~union``. ``out[accepted | kept] = i``; later classes
overwrite earlier ones; all else is 0 (ignore 255 in P is not carried over).

Official quirk (option ``union='unclaimed'``): ``union`` is the union of the masks
*still unclaimed* when class i is processed, so P_i pixels under masks claimed by an
earlier class are re-labelled i. The default ``union='all'`` uses every SAM mask, the
paper's "trust CAM where SAM has no prediction".
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX
from .base import BaseRefiner, RefineState, final_label


def sepl_merge(label: Tensor,
               masks: Tensor,
               fg_ratio_thr: float = 0.5,
               cover_thr: float = 0.85,
               keep_cam_label: bool = True,
               union: str = 'all',
               keep_ignore: bool = False) -> Tensor:
    """Merge SAM masks into a pseudo label (SEPL ``max_iou_imp2``).

    Args:
        label: (H, W) long pseudo label, 0 bg, 1..C fg, 255 ignore.
        masks: (N, H, W) bool SAM masks, in the order they are offered.
        fg_ratio_thr: accept S if |P_i & S| / |S| > fg_ratio_thr (0.5).
        cover_thr: or if |P_i & S| / |P_i| >= cover_thr (0.85).
        keep_cam_label: keep P_i where no SAM mask lies (official: True).
        union: 'all' (every mask) or 'unclaimed' (official quirk) for "no mask".
        keep_ignore: copy P's 255 pixels that end up 0 (official: False).
    Returns:
        (H, W) long merged label.
    """
    if union not in ('all', 'unclaimed'):
        raise ValueError(f"union must be 'all' or 'unclaimed', got '{union}'")
    if masks.dim() != 3 or masks.shape[1:] != label.shape:
        raise ValueError(f'masks {tuple(masks.shape)} do not match label '
                         f'{tuple(label.shape)}')
    out = torch.zeros_like(label)
    classes = [int(c) for c in label.unique() if 0 < int(c) != IGNORE_INDEX]
    masks = masks.bool()
    sizes = masks.flatten(1).sum(1)  # (N,) integer counts: the rule is exact
    claimed = torch.zeros(masks.shape[0], dtype=torch.bool, device=masks.device)
    no_mask_all = ~masks.any(0)
    for c in classes:
        p_c = label == c
        inter = (masks & p_c).flatten(1).sum(1)  # (N,) |P_c & S|
        accept = ((inter > fg_ratio_thr * sizes) | (inter / p_c.sum() >= cover_thr)) & ~claimed
        region = masks[accept].any(0)
        if keep_cam_label:
            no_mask = no_mask_all if union == 'all' else ~masks[~claimed].any(0)
            region = region | (p_c & no_mask)
        claimed |= accept
        out[region] = c
    if keep_ignore:
        out[(out == 0) & (label == IGNORE_INDEX)] = IGNORE_INDEX
    return out


@MODELS.register_module()
class SAMRefiner(BaseRefiner):
    """Refine pseudo labels with SAM automatic masks (SEPL merge).

    Reads ``img`` (uint8 RGB), and ``label`` if an earlier refiner set it, else the
    label of ``cams`` by ``final_label(bg_thr)``; writes ``label``.

    Args:
        sam: config of :class:`~mmwsss.models.foundation.SegmentAnything`. Built on
            the first cache miss only, so a fully cached run never loads SAM.
        cache_dir: directory of cached masks (None: no cache).
        bg_thr: threshold turning CAMs into the label P when none is set.
        fg_ratio_thr, cover_thr, keep_cam_label, union, keep_ignore: see
            :func:`sepl_merge`.
    """

    def __init__(self,
                 sam: dict,
                 cache_dir: Optional[str] = None,
                 bg_thr: float = 0.15,
                 fg_ratio_thr: float = 0.5,
                 cover_thr: float = 0.85,
                 keep_cam_label: bool = True,
                 union: str = 'all',
                 keep_ignore: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if union not in ('all', 'unclaimed'):
            raise ValueError(f"union must be 'all' or 'unclaimed', got '{union}'")
        self.sam_cfg = dict(sam)
        self.cache_dir = cache_dir
        self.bg_thr = bg_thr
        self.merge_cfg = dict(
            fg_ratio_thr=fg_ratio_thr,
            cover_thr=cover_thr,
            keep_cam_label=keep_cam_label,
            union=union,
            keep_ignore=keep_ignore)
        # Plain attributes, not submodules: SAM weights stay out of state dicts.
        self.__dict__['_sam'] = None
        self.__dict__['_cache'] = None
        self.num_sam_runs = 0

    @property
    def sam(self):
        if self._sam is None:
            self.__dict__['_sam'] = MODELS.build(self.sam_cfg)
        return self._sam

    def _settings(self) -> dict:
        cfg = dict(self.sam_cfg)
        ckpt = cfg.get('checkpoint')
        if ckpt and osp.isfile(ckpt):
            cfg['checkpoint_stat'] = [osp.getsize(ckpt), int(osp.getmtime(ckpt))]
        cfg.pop('device', None)  # masks do not depend on the device
        return cfg

    def masks_of(self, img: np.ndarray, meta: Optional[dict] = None) -> np.ndarray:
        """(N, H, W) bool SAM masks of an (H, W, 3) uint8 image, from cache if there."""
        from mmwsss.models.foundation.mask_cache import MaskCache, image_key
        key = cache = None
        if self.cache_dir is not None:
            if self._cache is None:
                self.__dict__['_cache'] = MaskCache(self.cache_dir)
            cache = self._cache
            key = image_key(img, self._settings(), (meta or {}).get('img_path'))
            hit = cache.get(key)
            if hit is not None:
                return hit['masks']
        out = self.sam.generate(img)
        self.num_sam_runs += 1
        if cache is not None:
            cache.put(key, out['masks'], scores=out['scores'])
        return out['masks']

    def refine(self, state: RefineState) -> RefineState:
        if state.get('img') is None:
            raise KeyError("SAMRefiner needs 'img' (uint8 RGB) in the refine state")
        label = state['label'] if state.get('label') is not None \
            else final_label(state, self.bg_thr)
        metas: List[Dict] = state.get('meta') or [{}] * label.shape[0]
        imgs = state['img'].permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
        merged = []
        for b in range(label.shape[0]):
            masks = torch.from_numpy(self.masks_of(imgs[b], metas[b])).to(label.device)
            merged.append(sepl_merge(label[b], masks, **self.merge_cfg))
        state['label'] = torch.stack(merged)
        return state
