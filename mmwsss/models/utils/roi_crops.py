"""ToCo's uncertain-region local crops (``utils/camutils.py: cam_to_roi_mask2, crop_from_roi_neg``).

ToCo's class-token contrast needs local views whose class token should agree with the global
one (positives) or not (negatives). It draws them around pixels the aux CAM is NOT confident
are foreground, and calls a crop negative when it holds almost no CAM evidence.

ROI codes: 0 = background (max CAM <= low), 1 = uncertain, 2 = confident foreground
(max CAM >= high).
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor


def cam_to_roi_mask(cam: Tensor,
                    img_labels: Tensor,
                    low: float = 0.25,
                    high: float = 0.7) -> Tensor:
    """Three-level ROI map from normalised CAMs.

    ``v = max_c(y_c * cam_c)``; roi = 0 where ``v <= low``, 2 where ``v >= high``, 1 elsewhere
    (both comparisons inclusive; ``>= high`` is applied last, so it wins if ``high <= low``).
    Absent classes are multiplied by 0 rather than masked out, as in ToCo: with CAMs >= 0 this
    is the same as a max over the present classes.

    Args:
        cam: (B, C, H, W) foreground CAMs normalised to [0, 1] (ToCo: the multi-scale aux CAM).
        img_labels: (B, C) multi-hot image labels.
        low: background threshold (ToCo: 0.25).
        high: foreground threshold (ToCo: 0.7).

    Returns:
        (B, H, W) long roi map in {0, 1, 2} (ToCo returns int16; same values).
    """
    valid = cam * img_labels[:, :, None, None].to(cam.dtype)
    v = valid.max(dim=1).values  # (B, H, W)
    roi = torch.ones_like(v, dtype=torch.long)
    roi[v <= low] = 0
    roi[v >= high] = 2
    return roi


def crop_from_roi_neg(images: Tensor,
                      roi: Tensor,
                      crop_num: int = 8,
                      crop_size: int = 96,
                      generator: Optional[torch.Generator] = None,
                      neg_thr: float = 0.2) -> Tuple[List[Tensor], Tensor]:
    """Draw ``crop_num`` local crops per image around non-confident pixels, flag negatives.

    Geometry, as ToCo: with ``m = crop_size // 2`` the candidates are the positions p of the
    margin-cropped map ``roi[m:H-m, m:W-m]`` and the crop is ``[p, p + crop_size)`` in full-image
    coordinates. The candidate's own pixel is full-image ``p + m``, the crop's centre, so the
    test "roi <= 1" is on the crop centre and every crop fits in the image. (For an even
    ``crop_size`` the last fitting corner ``H - crop_size`` is never drawn; kept as ToCo.)

    Sampling, as ToCo:

    * candidates = margin-cropped positions with roi <= 1 (background or uncertain centre),
      in row-major order (``nonzero``);
    * if there are fewer than ``crop_num`` of them, every margin-cropped position is a
      candidate (ToCo's ``roi >= 0`` fallback: a uniform random crop);
    * ``torch.randperm(len(candidates), generator=generator)[:crop_num]`` picks them, one
      ``randperm`` per image in batch order. With ``generator=None`` this draws from the global
      CPU generator exactly like ToCo's ``torch.randperm(n)``, so the same seed gives the same
      crops.

    An image whose margin-cropped area has fewer than ``crop_num`` positions at all makes ToCo
    fail with an index error; here it raises a ``ValueError``.

    Flags: crop k is negative (0) if ``sum(roi over the crop) / crop_size**2 <= neg_thr`` (an
    uncertain pixel counts 1 and a confident-fg pixel 2, as ToCo sums the roi codes), else
    positive (1). The ratio is computed in float32 like ToCo's integer-tensor division, so
    boundary cases compare identically. The first two flags are the global views, always 1.

    Args:
        images: (B, 3, H, W) the image the crops come from (ToCo: the local-view-augmented copy).
        roi: (B, H, W) roi map from :func:`cam_to_roi_mask`, same H, W.
        crop_num: local crops per image (ToCo: 8).
        crop_size: crop side (ToCo: 96).
        generator: optional ``torch.Generator`` for ``randperm``.
        neg_thr: negative-crop threshold on the roi ratio (ToCo: 0.2).

    Returns:
        crops: list of ``crop_num`` tensors (B, 3, crop_size, crop_size), crop-major as the
            CTC student expects (list index = crop, batch index = image);
        flags: (B, crop_num + 2) long, ``[1, 1, f_0, ..., f_{crop_num-1}]`` (ToCo: float ones).
    """
    b, _, h, w = images.shape
    if roi.shape != (b, h, w):
        raise ValueError(f'crop_from_roi_neg: roi {tuple(roi.shape)} does not match images '
                         f'{tuple(images.shape)}')
    m = crop_size // 2
    inner_h, inner_w = h - 2 * m, w - 2 * m
    if inner_h * inner_w < crop_num or inner_h <= 0 or inner_w <= 0:
        raise ValueError(f'crop_from_roi_neg: a {h}x{w} image has {max(inner_h, 0)}x'
                         f'{max(inner_w, 0)} crop positions for {crop_size}px crops, fewer '
                         f'than crop_num={crop_num}')
    roi = roi.to(images.device)
    offs = torch.arange(crop_size, device=images.device)
    all_crops, all_flags = [], []
    for i in range(b):
        inner = roi[i, m:h - m, m:w - m]
        cand = (inner <= 1).nonzero()  # (n, 2) row-major
        if cand.shape[0] < crop_num:
            cand = torch.ones_like(inner, dtype=torch.bool).nonzero()  # ToCo's `roi >= 0`
        perm = torch.randperm(
            cand.shape[0],
            generator=generator,
            device=generator.device if generator is not None else 'cpu')
        corner = cand[perm[:crop_num].to(cand.device)]  # (crop_num, 2) = (y0, x0)
        rows = corner[:, 0, None] + offs  # (crop_num, S)
        cols = corner[:, 1, None] + offs  # (crop_num, S)
        # advanced indexing gathers all crops at once: (C, crop_num, S, S)
        crops = images[i][:, rows[:, :, None], cols[:, None, :]]
        all_crops.append(crops.permute(1, 0, 2, 3))  # (crop_num, C, S, S)
        roi_sum = roi[i][rows[:, :, None], cols[:, None, :]].sum(dim=(1, 2))  # (crop_num,)
        ratio = roi_sum / (crop_size * crop_size)  # float32, as ToCo
        all_flags.append((ratio > neg_thr).long())
    crops = torch.stack(all_crops, dim=1)  # (crop_num, B, C, S, S)
    flags = torch.cat(
        [torch.ones(b, 2, dtype=torch.long, device=images.device),
         torch.stack(all_flags, dim=0)],
        dim=1)
    return list(crops.unbind(0)), flags
