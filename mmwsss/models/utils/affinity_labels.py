"""Label construction for the affinity training stages (AffinityNet / PSA, IRN).

Offline (full resolution, written as PNG by a refine chain):
    * :func:`combine_psa_labels`: PSA's label from the two dCRF outputs with a
      low (alpha_la) and a high (alpha_ha) background power.
    * :func:`combine_ir_labels`: IRN's IR label from the fg-confident (bg pad
      0.30) and bg-confident (bg pad 0.05) CRF labels.

Online (inside the training-stage segmentors, batched after crop/flip/pad):
    * :func:`psa_downsample_label`: PSA's AvgPool2d(8)-then-argmax of the two
      score maps, recomputed from the combined label PNG.
    * :func:`nearest_downsample_label`: IRN's ``pil_rescale(label, 0.25, 0)``.
    * :func:`pair_labels`: bg-positive / fg-positive / negative pair masks for
      pairs within a radius, in the official "cropped source" layout.

Label values: 0 background, 1..C foreground, 255 ignore (uncertain).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = 255


def combine_psa_labels(label_la: Tensor,
                       label_ha: Tensor,
                       ignore_index: int = IGNORE_INDEX) -> Tensor:
    """PSA (``voc12/data.py: VOC12AffDataset``): label = argmax(la); 255 where
    la is background; 0 where ha is background.

    Args:
        label_la: (..., H, W) argmax of the CRF'd scores with bg power alpha_la
            (4 in PSA/SEAM): large background, confident foreground.
        label_ha: (..., H, W) the same with alpha_ha (32 PSA, 24 SEAM): small,
            confident background.
    Returns:
        (..., H, W) long: fg class where la says fg, 0 where ha says bg,
        ``ignore_index`` in between.
    """
    if label_la.shape != label_ha.shape:
        raise ValueError(f'la/ha label shapes differ: {tuple(label_la.shape)} '
                         f'vs {tuple(label_ha.shape)}')
    label = label_la.clone().long()
    label[label_la == 0] = ignore_index
    label[label_ha == 0] = 0
    return label


def combine_ir_labels(fg_conf: Tensor, bg_conf: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """IRN (``step/cam_to_ir_label.py``): conf = fg_conf; 255 where fg_conf == 0;
    0 where fg_conf + bg_conf == 0 (both say background).

    Unlike PSA, a pixel that the bg-confident label calls background but the
    fg-confident label calls foreground keeps its foreground class.
    """
    if fg_conf.shape != bg_conf.shape:
        raise ValueError(f'fg/bg label shapes differ: {tuple(fg_conf.shape)} '
                         f'vs {tuple(bg_conf.shape)}')
    conf = fg_conf.clone().long()
    conf[fg_conf == 0] = ignore_index
    conf[(fg_conf == 0) & (bg_conf == 0)] = 0
    return conf


def _block_votes(onehot: Tensor, factor: int) -> Tensor:
    """Sum of (B, N, H, W) votes over factor x factor blocks, zero-padded at the
    bottom/right like skimage ``block_reduce`` -> (B, N, ceil(H/f), ceil(W/f))."""
    h, w = onehot.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    onehot = F.pad(onehot, (0, pw, 0, ph))
    return F.avg_pool2d(onehot, factor, factor) * factor * factor


def psa_downsample_label(label: Tensor,
                         num_classes: int,
                         factor: int = 8,
                         ignore_index: int = IGNORE_INDEX) -> Tensor:
    """PSA's stride-8 affinity label from a combined full-resolution label.

    PSA average-pools the la and ha CRF score maps by 8, takes each argmax and
    combines them (:func:`combine_psa_labels`); blocks without any score
    (crop padding) become ignore. Here the scores are the one-hot votes of the
    combined label: a pixel with a fg class c votes c in both maps, 0 votes bg
    in both, ``ignore_index`` (la bg, ha fg) votes bg in la and "some fg" in
    ha. Any other value (e.g. a crop-padding value 254) votes nothing. Ties go
    to the lower index (background), as ``np.argmax``.

    Args:
        label: (B, H, W) long combined labels.
        num_classes: number of foreground classes C.
        factor: pooling factor (8 = the affinity map stride).
    Returns:
        (B, ceil(H/f), ceil(W/f)) long in {0..C, ignore_index}.
    """
    if label.dim() != 3:
        raise ValueError(f'label must be (B, H, W), got {tuple(label.shape)}')
    label = label.long()
    cls = torch.arange(num_classes + 1, device=label.device).view(1, -1, 1, 1)
    onehot = (label[:, None] == cls).float()
    unsure = (label == ignore_index).float()[:, None]
    la = onehot.clone()
    la[:, :1] += unsure
    ha = torch.cat([onehot, unsure], 1)
    la_votes = _block_votes(la, factor)
    ha_votes = _block_votes(ha, factor)
    la_arg = la_votes.argmax(1)
    ha_arg = ha_votes.argmax(1)
    out = combine_psa_labels(la_arg, ha_arg, ignore_index)
    out[la_votes.amax(1) <= 0] = ignore_index
    return out


def nearest_downsample_label(label: Tensor,
                             factor: int = 4,
                             size: Optional[Sequence[int]] = None) -> Tensor:
    """IRN's ``pil_rescale(label, 1 / factor, order=0)``: PIL nearest resize to
    round(H / f) x round(W / f) (or ``size``), sampling source pixel
    floor((i + 0.5) * H / h).

    Args:
        label: (B, H, W) labels.
    Returns:
        (B, h, w) labels.
    """
    h, w = label.shape[-2:]
    if size is None:
        oh, ow = max(1, round(h / factor)), max(1, round(w / factor))
    else:
        oh, ow = int(size[0]), int(size[1])
    ys = ((torch.arange(oh, device=label.device) + 0.5) * h / oh).floor().long().clamp(max=h - 1)
    xs = ((torch.arange(ow, device=label.device) + 0.5) * w / ow).floor().long().clamp(max=w - 1)
    return label[..., ys[:, None], xs[None, :]]


def crop_pairs(x: Tensor, radius: int) -> Tensor:
    """Keep the official source region of a full-grid pair tensor.

    PSA / IRN only use sources whose every partner within ``radius`` lies in
    the map: rows < h - r + 1 and r - 1 <= cols < w - r + 1.

    Args:
        x: (..., h, w) per-source tensor (e.g. (B, K, h, w) pair affinities).
    Returns:
        (..., h - r + 1, w - 2r + 2).
    """
    rf = radius - 1
    h, w = x.shape[-2:]
    if h <= rf or w <= 2 * rf:
        raise ValueError(f'map {(h, w)} too small for pairs within radius {radius}')
    return x[..., :h - rf, rf:w - rf]


def pair_labels(label: Tensor,
                offsets: Sequence[Tuple[int, int]],
                radius: int,
                ignore_index: int = IGNORE_INDEX) -> Tuple[Tensor, Tensor, Tensor]:
    """bg-positive, fg-positive and negative pair masks (PSA / IRN).

    A pair (i, j), j = i + offset, is valid when neither end is ignore.
    bg-pos: both ends 0. fg-pos: same non-zero class, valid. neg: different
    classes, valid.

    Args:
        label: (B, h, w) downsampled labels.
        offsets: K offsets (``pair_offsets(radius)``).
        radius: the radius the offsets were made with (sets the source crop).
    Returns:
        three float (B, K, h - r + 1, w - 2r + 2) masks in the layout of
        ``crop_pairs(full_grid_pairs, radius)``.
    """
    if label.dim() != 3:
        raise ValueError(f'label must be (B, h, w), got {tuple(label.shape)}')
    rf = radius - 1
    h, w = label.shape[-2:]
    src = crop_pairs(label, radius)[:, None]
    ch, cw = src.shape[-2:]
    dst = torch.stack([label[:, dy:dy + ch, rf + dx:rf + dx + cw] for dy, dx in offsets], 1)
    valid = (src != ignore_index) & (dst != ignore_index)
    same = (src == dst) & valid
    bg_pos = same & (src == 0)
    fg_pos = same & (src != 0)
    neg = (src != dst) & valid
    return bg_pos.float(), fg_pos.float(), neg.float()
