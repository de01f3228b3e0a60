"""FMA's SAMS seeding (Yang & Gong, WACV'24) as a refiner of the pseudo-label chain.

Per image: the CAMs of the present classes and the image's SAM masks (with their levels,
from the offline store written by ``tools/s2c_segment_everything.py --preset fma``, or
computed here with ``sam`` on a miss) give one label per mask, painted by (level, conf)
(:func:`~mmwsss.models.foundation.fma.fma_sams_seed`). Pixels no mask covers are
background.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from mmwsss.registry import MODELS
from mmwsss.utils.io import image_stem
from .base import BaseRefiner, RefineState


@MODELS.register_module()
class FMASAMSRefiner(BaseRefiner):
    """Replace the label by FMA's SAMS seed (reads ``cams``, ``img_labels``, ``meta``).

    Args:
        mask_dir: the offline mask store (entries keyed by the image stem, see
            :func:`~mmwsss.models.foundation.fma.save_fma_masks`).
        sam: optional :class:`~mmwsss.models.foundation.fma.FMASegmentAnything` config,
            built on the first miss only; its masks of the state's ``img`` are then
            written to ``mask_dir``. None: a missing entry is an error naming it.
        bg_pow: background power (FMA VOC: 0.7).
    Masks stored at another size than the CAMs are resized (nearest).
    """

    def __init__(self,
                 mask_dir: str,
                 sam: Optional[dict] = None,
                 bg_pow: float = 0.7,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.mask_dir = mask_dir
        self.sam_cfg = None if sam is None else dict(sam)
        self.bg_pow = bg_pow
        self.__dict__['_sam'] = None  # not a submodule: SAM stays out of state dicts
        self.num_sam_runs = 0

    def masks_of(self, meta: dict, img: Optional[torch.Tensor]) -> Dict[str, np.ndarray]:
        """(S, H, W) bool ``masks`` and (S,) ``levels`` of one image."""
        from mmwsss.models.foundation.fma import load_fma_masks, save_fma_masks
        path = meta.get('img_path')
        if path is None:
            raise KeyError('FMASAMSRefiner needs meta img_path to find the SAM masks')
        stem = image_stem(path)
        hit = load_fma_masks(self.mask_dir, stem)
        if hit is not None:
            return hit
        if self.sam_cfg is None:
            raise FileNotFoundError(
                f'no SAM masks of {path} in {self.mask_dir}: run tools/s2c_segment_everything.py '
                '--preset fma first, or give the refiner a sam config')
        if img is None:
            raise KeyError("FMASAMSRefiner needs 'img' to run SAM on a cache miss")
        if self._sam is None:
            self.__dict__['_sam'] = MODELS.build(self.sam_cfg)
        out = self._sam.generate(img.permute(1, 2, 0).to(torch.uint8).cpu().numpy())
        self.num_sam_runs += 1
        save_fma_masks(self.mask_dir, stem, out['masks'], out['levels'], scores=out['scores'])
        return out

    def refine(self, state: RefineState) -> RefineState:
        from mmwsss.models.foundation.fma import fma_sams_seed
        cams = state['cams']
        labels = state.get('img_labels')
        b, c, h, w = cams.shape
        metas: List[dict] = state.get('meta') or [{}] * b
        imgs = state.get('img')
        out = []
        for i in range(b):
            entry = self.masks_of(metas[i], None if imgs is None else imgs[i])
            masks = torch.from_numpy(np.ascontiguousarray(entry['masks'])).to(cams.device)
            levels = torch.from_numpy(entry['levels'].astype(np.int64)).to(cams.device)
            if masks.shape[1:] != (h, w) and masks.shape[0]:
                masks = F.interpolate(masks[None].float(), size=(h, w), mode='nearest')[0] > 0.5
            elif masks.shape[1:] != (h, w):
                masks = masks.new_zeros(0, h, w)
            fg = (labels[i] > 0).nonzero().flatten() if labels is not None \
                else torch.arange(c, device=cams.device)
            out.append(fma_sams_seed(cams[i, fg], masks, levels, self.bg_pow, fg_cls=fg.cpu()))
        state['label'] = torch.stack(out)
        return state
