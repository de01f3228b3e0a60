"""CARB's consistency-aware region balancing as plain tensor functions.

CARB (Kim, Lee, Choe, Shim, AAAI'24), official ``CARBHead.losses``. After the warm-up,
the CLIP mask ``M`` of the crop and the network's own label ``S = argmax(logits * y)``
split the pixels into the consistent region (``M == S``, "and") and the inconsistent
one (``M != S``, "vit"); the same is done on the local patch. Both regions are trained
towards ``M`` with a masked cross-entropy, the inconsistent one scaled by the ratio of
the mean "and" loss to the mean "vit" loss over the last iterations:

    L = L_and + c L_vit + L_partand + c L_partdif,   c = coeff * mean(Q_and) / mean(Q_vit)

Shapes: ``B`` images, ``K`` classes, (H, W) label size, (h, w) patch size.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

EMPTY_MODES = ('zero', 'nan')


def masked_ce(logits: Tensor,
              label: Tensor,
              ignore_index: int = 255,
              empty: str = 'zero') -> Tensor:
    """Cross-entropy averaged over the non-ignored pixels (CARB's
    ``CrossEntropyLoss(use_masked=True)`` = ``F.cross_entropy(reduction='mean')``).

    Args:
        logits: (B, K, H, W).
        label: (B, H, W) long, ``ignore_index`` skipped.
        empty: when every pixel is ignored, ``'zero'`` returns a 0 that keeps the graph
            (the default: one empty region must not poison the step) and ``'nan'`` the
            nan of ``F.cross_entropy`` (what the official code computes).
    Returns:
        scalar.
    """
    if empty not in EMPTY_MODES:
        raise ValueError(f'empty must be one of {EMPTY_MODES}, got {empty!r}')
    if empty == 'zero' and not bool((label != ignore_index).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, label, ignore_index=ignore_index)


def carb_region_labels(clip_label: Tensor,
                       self_label: Tensor,
                       ignore_index: int = 255) -> Tuple[Tensor, Tensor]:
    """The consistent ("and") and inconsistent ("vit") copies of the CLIP label.

    Args:
        clip_label: (B, H, W) long CLIP mask (``ignore_index`` allowed).
        self_label: (B, H, W) long argmax of the masked network logits.
    Returns:
        ``label_and`` = ``clip_label`` where it equals ``self_label``, else ignore;
        ``label_vit`` = ``clip_label`` where it differs, else ignore.
    """
    same = clip_label == self_label
    return (clip_label.masked_fill(~same, ignore_index), clip_label.masked_fill(same, ignore_index))


def carb_patch_region_labels(patch_label: Tensor,
                             self_patch: Tensor,
                             ignore_index: int = 255) -> Tuple[Tensor, Tensor]:
    """The same split on the patch: ``(partial_and, partial_dif)``.

    The official code writes ``partial_dif[partial_and != 255] = 255``: "dif" keeps the
    pixels where "and" is ignored, i.e. where the labels differ OR the patch label is
    already ignore. The second case is ignore in the copy anyway (``self_patch`` never
    holds ``ignore_index``), so this equals ``patch_label`` where it differs from
    ``self_patch`` (checked in the tests), and is written so here.

    Args:
        patch_label: (B, h, w) CLIP mask of the resized patch, at the patch size.
        self_patch: (B, h, w) the network's own label on the same pixels.
    """
    partial_and, partial_dif = carb_region_labels(patch_label, self_patch, ignore_index)
    return partial_and, partial_dif


def carb_balance_coefficient(and_queue: Tensor, vit_queue: Tensor, coeff: float = 1.0) -> Tensor:
    """``coeff * mean(and_queue) / mean(vit_queue)`` (queues of length Q, zeros where
    not yet written, as the official zero-initialised queues); ``coeff`` when the
    "vit" queue sums to 0 (no inconsistent pixel yet: the official ratio is inf/nan)."""
    vit = vit_queue.mean()
    if float(vit) <= 0:
        return and_queue.new_tensor(float(coeff))
    return coeff * and_queue.mean() / vit


def carb_total_loss(loss_and: Tensor, loss_vit: Tensor, loss_partand: Tensor, loss_partdif: Tensor,
                    coefficient: Tensor) -> Tensor:
    """``L_and + c L_vit + L_partand + c L_partdif``."""
    return loss_and + coefficient * loss_vit + loss_partand + coefficient * loss_partdif


def carb_patch_box(height: int,
                   width: int,
                   patch_size: Sequence[int],
                   generator: Optional[torch.Generator] = None) -> Tuple[int, int]:
    """Top-left corner of CARB's random patch (one per batch).

    ``torch.randint(0, H - h)`` (upper bound exclusive, as the official code: the last
    position is never drawn), 0 when the patch spans the side.

    Args:
        height, width: the label (crop) size.
        patch_size: (h, w), CARB's ``patch_size=(512, 256)``.
    """
    ph, pw = int(patch_size[0]), int(patch_size[1])
    if ph > height or pw > width:
        raise ValueError(f'CARB patch {ph}x{pw} is larger than the crop {height}x{width}')
    hpos = 0 if height == ph else int(torch.randint(0, height - ph, (), generator=generator))
    wpos = 0 if width == pw else int(torch.randint(0, width - pw, (), generator=generator))
    return hpos, wpos


def carb_patch_scale(resize_rate: float = 1.0,
                     resize_offset: float = 1.0,
                     generator: Optional[torch.Generator] = None) -> float:
    """CARB's patch magnification ``m = resize_rate * U[0, 1) + resize_offset``."""
    return float(resize_rate * torch.rand((), generator=generator) + resize_offset)
