"""BECO's confidence mask of offline pseudo labels (``first-stage/irn/gen_mask.py``).

Per image, the margin of a pixel is its top-1 minus its top-2 score over the
background + present classes (IRN random-walk scores with the background padded at
``sem_seg_bg_thres`` 0.25). For every class that the pseudo label predicts, the
pixels of that class with the largest margins -- ``floor(n / (1 / keep_ratio))`` of
its ``n`` pixels, the top half with BECO's ``thd = 0.5`` -- are confident (mask 1);
all others are not (mask 0). BECO's second stage supervises confident pixels with the
pseudo label and unconfident ones by cross pseudo supervision.
"""
from typing import Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, scores_to_label
from .base import BaseRefiner, RefineState

__all__ = ['score_margin', 'margin_confidence_mask', 'MarginConfidenceMask']


def score_margin(scores: Tensor,
                 img_labels: Optional[Tensor] = None,
                 zero_ties: bool = False) -> Tensor:
    """Top-1 minus top-2 score per pixel.

    Args:
        scores: (B, 1 + C, H, W) background + foreground scores.
        img_labels: optional (B, C) multi-hot labels; absent classes are left out
            (BECO's score tensor only holds the background and the present classes).
        zero_ties: the official code's tie rule. ``gen_mask.py`` sets *every* score
            equal to the top-1 to 0 and takes the max of the result, so when two
            classes tie for the top the second score is the best score below the tie
            (or 0) instead of the tied value. Off by default (a tie has margin 0).
    Returns:
        (B, H, W) float margins (>= 0).
    """
    if scores.dim() != 4:
        raise ValueError(f'scores must be (B, 1 + C, H, W), got {tuple(scores.shape)}')
    scores = scores.float()
    if img_labels is not None:
        keep = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1) > 0
        scores = scores.masked_fill(~keep[..., None, None], float('-inf'))
    top1 = scores.amax(1)
    if scores.shape[1] == 1:
        return torch.zeros_like(top1)
    if zero_ties:
        # gen_mask.py: a[a == max] = 0; second = max(a) (absent classes stay out)
        rest = torch.where(scores == top1[:, None], torch.zeros_like(scores), scores)
        second = rest.amax(1)
    else:
        second = scores.topk(2, dim=1).values[:, 1]
    # an image with a single valid channel has no second score: margin = top1 - (-inf)
    second = torch.where(torch.isinf(second), top1, second)
    return top1 - second


def margin_confidence_mask(margin: Tensor, label: Tensor, keep_ratio: float = 0.5) -> Tensor:
    """Per class of ``label``, mark the pixels with the largest margins as confident.

    For each class k in ``label`` (ignore 255 excluded) with ``n`` pixels, the first
    ``int(n // (1 / keep_ratio))`` pixels in descending margin order get mask 1
    (BECO: ``thd = 0.5``, i.e. ``floor(n / 2)``). Ties in the margin are broken by
    raster order (a stable sort; the official ``torch.sort`` is not stable).

    Args:
        margin: (B, H, W) or (H, W) float margins (:func:`score_margin`).
        label: the same shape, long pseudo label (255 = ignore, never confident).
        keep_ratio: fraction of each class's pixels kept (``thd``).
    Returns:
        uint8 mask of the same shape, 1 = confident.
    """
    if margin.shape != label.shape:
        raise ValueError(f'margin {tuple(margin.shape)} and label {tuple(label.shape)} '
                         'must have the same shape')
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f'keep_ratio must be in (0, 1], got {keep_ratio}')
    squeeze = margin.dim() == 2
    if squeeze:
        margin, label = margin[None], label[None]
    mask = torch.zeros(label.shape, dtype=torch.uint8, device=label.device)
    step = 1.0 / keep_ratio
    for b in range(label.shape[0]):
        lab, mar, out = label[b].flatten(), margin[b].flatten(), mask[b].view(-1)
        for k in torch.unique(lab).tolist():
            if k == IGNORE_INDEX:
                continue
            idx = (lab == k).nonzero().flatten()
            num = int(idx.numel() // step)  # gen_mask.py: int(len(ll) // (1 / thd))
            if num == 0:
                continue
            order = torch.sort(mar[idx], descending=True, stable=True).indices
            out[idx[order[:num]]] = 1
    return mask[0] if squeeze else mask


@MODELS.register_module()
class MarginConfidenceMask(BaseRefiner):
    """Write BECO's confidence mask ``state['conf_mask']`` (B, H, W) uint8.

    Reads ``scores`` (e.g. :class:`IRNRandomWalk`'s random-walk scores with the
    0.25 background pad, BECO's setting). Without ``scores`` (CAM seeds straight
    from the CAM model) the scores are the CAMs of the present classes with the
    background padded at ``bg_thr``, i.e. the scores behind ``cam_to_label``. The
    label whose classes are split is ``state['label']`` if a previous refiner set it,
    else the argmax of the scores; it is written back to ``state['label']`` so the
    PNG and the mask describe the same label.

    Args:
        keep_ratio: fraction of each class's pixels that are confident (0.5).
        bg_thr: background pad for the CAM-only case (None: refuse without scores).
        zero_ties: the official tie rule of :func:`score_margin`.
    """

    def __init__(self,
                 keep_ratio: float = 0.5,
                 bg_thr: Optional[float] = None,
                 zero_ties: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f'keep_ratio must be in (0, 1], got {keep_ratio}')
        self.keep_ratio = float(keep_ratio)
        self.bg_thr = bg_thr
        self.zero_ties = zero_ties

    def refine(self, state: RefineState) -> RefineState:
        scores = state.get('scores')
        labels = state.get('img_labels')
        if scores is None:
            if self.bg_thr is None:
                raise KeyError("MarginConfidenceMask needs 'scores' (e.g. IRNRandomWalk) "
                               'or bg_thr to pad the CAMs with a background score')
            cams = state['cams'].float()
            if labels is not None:
                cams = cams * (labels[..., None, None] > 0)
            bg = torch.full_like(cams[:, :1], float(self.bg_thr))
            scores = torch.cat([bg, cams], 1)
            state['scores'] = scores
        label = state.get('label')
        if label is None:
            label = scores_to_label(scores, labels)
        if state.get('valid_mask') is not None:
            label = label.masked_fill(~state['valid_mask'].bool(), IGNORE_INDEX)
        margin = score_margin(scores, labels, zero_ties=self.zero_ties)
        state['label'] = label
        state['conf_mask'] = margin_confidence_mask(margin, label, self.keep_ratio)
        return state
