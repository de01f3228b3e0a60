"""DuPL's consistency regularisation on a strongly augmented view (Wu et al., CVPR'24).

Official: ``train_final_voc.py`` ("Consistency Regularization loss"), from
iteration 8000, for each branch i with the label L_j that supervises it (the
OTHER branch's GMM-filtered PAR label)::

    s = flip(seg_i(strong view))              # the strong view is always flipped
    s = interpolate(s, input size, bilinear, align_corners=False)
    w = seg_i(weak view), resized to the label (bilinear, align_corners=False)
    target = argmax w;   mask = (L_j == 255) & (max softmax w > 0.9)
    target[~mask] = 255
    loss_i = CE(s, target, ignore 255, reduction='none').sum() / mask.sum()   (0 if empty)

i.e. the weak prediction, where it is confident, teaches the strong view on the
pixels the pseudo label leaves out.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = 255


def consistency_targets(weak_logits: Tensor,
                        label: Tensor,
                        conf_thr: float = 0.9,
                        ignore_index: int = IGNORE_INDEX) -> Tuple[Tensor, Tensor]:
    """Targets of the strong view from the weak prediction.

    Args:
        weak_logits: (B, K, H, W) seg logits of the weak (training) view at the
            label size (already resized). Detached here.
        label: (B, H, W) the pseudo label that supervises this branch (DuPL: the
            other branch's filtered label); its ``ignore_index`` pixels are the
            candidates.
        conf_thr: strict lower bound on the max softmax probability (DuPL: 0.9).
    Returns:
        ``(target, mask)``: (B, H, W) long argmax of the weak logits with
        ``ignore_index`` outside the mask, and the (B, H, W) bool mask
        ``(label == ignore_index) & (confidence > conf_thr)``.
    """
    if weak_logits.shape[0] != label.shape[0] or weak_logits.shape[2:] != label.shape[1:]:
        raise ValueError(f'consistency_targets: logits {tuple(weak_logits.shape)} and label '
                         f'{tuple(label.shape)} differ in batch or spatial size')
    weak = weak_logits.detach()
    conf, target = weak.softmax(1).max(1)
    mask = (label == ignore_index) & (conf > conf_thr)
    target = target.masked_fill(~mask, ignore_index)
    return target, mask


def strong_view_consistency_loss(strong_logits: Tensor,
                                 weak_logits: Tensor,
                                 label: Tensor,
                                 flipped: Optional[Tensor] = None,
                                 conf_thr: float = 0.9,
                                 ignore_index: int = IGNORE_INDEX) -> Tensor:
    """DuPL's ``reg_loss`` of one branch.

    Args:
        strong_logits: (B, K, h, w) seg logits of the strong view (any size; DuPL:
            the x0.75 view's decoder output).
        weak_logits: (B, K, H, W) seg logits of the weak view at the label size.
        label: (B, H, W) pseudo label supervising this branch.
        flipped: optional (B,) bool, the strong view's per-sample flips, undone
            before the resize (DuPL flips every sample: all True).
        conf_thr: see :func:`consistency_targets`.
    Returns:
        scalar ``sum CE / mask count``; 0 (with a graph) when the mask is empty.
    """
    s = strong_logits
    if flipped is not None:
        flipped = flipped.to(s.device).bool()
        s = torch.where(flipped[:, None, None, None], s.flip(-1), s)
    s = F.interpolate(s, size=label.shape[-2:], mode='bilinear', align_corners=False)
    target, mask = consistency_targets(weak_logits, label, conf_thr, ignore_index)
    count = mask.sum()
    if int(count) == 0:
        return s.sum() * 0.0
    ce = F.cross_entropy(s, target, ignore_index=ignore_index, reduction='none')
    return ce.sum() / count
