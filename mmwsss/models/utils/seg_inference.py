"""Multi-scale + flip segmentation logits, as ToCo / DuPL's ``infer_seg_voc.py`` computes them."""
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def multi_scale_seg_logits(seg_fn: Callable[[Tensor], Tensor],
                           inputs: Tensor,
                           scales: Sequence[float] = (1.0, ),
                           flip: bool = False,
                           flip_merge: str = 'sum',
                           scale_merge: str = 'max') -> Tensor:
    """Segmentation logits merged over scales and horizontal flips.

    ToCo's ``tools/infer_seg_voc.py``: per scale s the input is resized to
    (int(s*h), int(s*w)) (bilinear, align_corners=False); the image and its flip
    are run in one batch; both logits are resized to (h, w) (bilinear,
    align_corners=False) and summed (the flip is undone first); scales are
    max-merged (ToCo, DuPL: scales (1.0, 1.5, 1.25)).

    Args:
        seg_fn: images (N, 3, h', w') -> logits (N, K, h', w') at the image size.
        inputs: (B, 3, H, W) normalised images.
        flip_merge: ``'sum'`` or ``'max'`` of the image and its flip.
        scale_merge: ``'max'`` or ``'mean'`` over scales.
    Returns:
        (B, K, H, W) merged logits.
    """
    if flip_merge not in ('sum', 'max') or scale_merge not in ('max', 'mean'):
        raise ValueError(f"flip_merge must be 'sum' or 'max' and scale_merge 'max' or "
                         f"'mean', got {flip_merge!r}, {scale_merge!r}")
    b, _, h, w = inputs.shape
    per_scale = []
    for s in scales:
        x = inputs if s == 1.0 else F.interpolate(
            inputs, size=(int(s * h), int(s * w)), mode='bilinear', align_corners=False)
        if flip:
            x = torch.cat([x, x.flip(-1)], 0)
        logits = F.interpolate(seg_fn(x), size=(h, w), mode='bilinear', align_corners=False)
        if flip:
            a, f = logits[:b], logits[b:].flip(-1)
            logits = a + f if flip_merge == 'sum' else torch.maximum(a, f)
        per_scale.append(logits)
    stacked = torch.stack(per_scale, 0)
    return stacked.max(0)[0] if scale_merge == 'max' else stacked.mean(0)
