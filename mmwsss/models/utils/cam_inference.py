"""Multi-scale + flip CAM inference with the merge rules the methods use.

    IRN / SEAM / PSA:  relu -> sum(image, flip) -> resize -> sum over scales -> /max
    ToCo / DuPL / MoRe: resize -> max(image, flip) -> relu -> sum over scales -> minmax
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .cam import merge, normalize_cams

# Ready-made settings of ``multi_scale_cams`` per method family (reference §0, §1.2).
CAM_PRESETS = dict(
    irn=dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, flip_merge='sum', scale_merge='sum',
             relu_first=True, norm='max'),
    toco=dict(scales=(1.0, 0.5, 1.5), flip=True, flip_merge='max', scale_merge='sum',
              relu_first=False, norm='minmax'),
)


def multi_scale_cams(cam_fn: Callable[[Tensor], Tensor],
                     inputs: Tensor,
                     scales: Sequence[float] = (1.0, ),
                     flip: bool = True,
                     flip_merge: str = 'sum',
                     scale_merge: str = 'sum',
                     relu_first: bool = True,
                     norm: str = 'max',
                     out_size: Optional[Tuple[int, int]] = None,
                     align_corners: bool = False,
                     img_labels: Optional[Tensor] = None) -> Tensor:
    """CAMs merged over scales and horizontal flips.

    Args:
        cam_fn: maps images (N, 3, h, w) to raw CAMs (N, C, h', w').
        inputs: normalised images (B, 3, H, W).
        scales: input rescale factors (bilinear, align_corners as given).
        flip: also run the horizontally flipped image (batched with the original).
        flip_merge / scale_merge: 'sum' | 'max' | 'mean'.
        relu_first: ReLU each raw CAM before flip-merging and resizing (IRN);
            False resizes and flip-merges first, then ReLU (ToCo).
        norm: :func:`normalize_cams` mode applied to the merged map.
        out_size: output size (default: the input size).
        img_labels: (B, C) multi-hot; absent classes are zeroed after norm.
    Returns:
        (B, C, *out_size) CAMs.
    """
    b, _, h, w = inputs.shape
    out_size = tuple(out_size) if out_size is not None else (h, w)
    per_scale = []
    for s in scales:
        x = inputs if s == 1.0 else F.interpolate(
            inputs, scale_factor=s, mode='bilinear', align_corners=align_corners)
        if flip:
            x = torch.cat([x, x.flip(-1)], 0)
        cam = cam_fn(x)
        if relu_first:
            cam = F.relu(cam)
        if flip:
            cam = merge([cam[:b], cam[b:].flip(-1)], flip_merge)
        cam = F.interpolate(cam, size=out_size, mode='bilinear', align_corners=align_corners)
        if not relu_first:
            cam = F.relu(cam)
        per_scale.append(cam)
    cams = normalize_cams(merge(per_scale, scale_merge), norm)
    if img_labels is not None:
        cams = cams * img_labels[..., None, None].to(cams.dtype)
    return cams
