"""Background/foreground-balanced segmentation CE of the ToCo family.

Official: ToCo / DuPL / MoRe ``model/losses.py: get_seg_loss``.

Pseudo labels from CAMs are mostly background; averaging the CE separately over background and
foreground pixels and taking the mean of the two keeps the foreground from being drowned out.
"""
import torch.nn.functional as F
from torch import Tensor


def bg_fg_seg_loss(logits: Tensor,
                   label: Tensor,
                   ignore_index: int = 255,
                   eps: float = 0.0,
                   empty: str = 'zero') -> Tensor:
    """``0.5 * mean CE over bg pixels + 0.5 * mean CE over fg pixels``.

        bg = pixels with label 0, fg = pixels with label not in {0, ignore_index}
        L  = 0.5 * sum_bg CE / (N_bg + eps) + 0.5 * sum_fg CE / (N_fg + eps)

    Each group is averaged over the whole batch (one pooled mean per group).

    The three official forms:

    * ToCo: ``F.cross_entropy(..., ignore_index)`` on a label copy where the other group is set
      to ignore, i.e. ``eps = 0``; a group with no pixel in the batch gives 0 / 0 = NaN and the
      whole loss (and every gradient) becomes NaN. That is a quirk, not the method: here it is
      ``empty='nan'`` (with ``eps=0``).
    * DuPL / MoRe: ``sum / (count + 1e-6)`` ("fix nan issue"): ``eps=1e-6`` (either ``empty``
      mode gives the same value then); an empty group contributes 0.
    * default (``eps=0, empty='zero'``): ToCo's exact value whenever both groups have pixels,
      and an empty group contributes 0 (the DuPL/MoRe behaviour) instead of NaN.

    Args:
        logits: (B, K, H, W) segmentation logits, K classes including background 0. Resize them
            to the label size first (ToCo: bilinear, align_corners=False).
        label: (B, H, W) integer labels in 0..K-1 or ``ignore_index``.
        ignore_index: ignored label value.
        eps: added to each group's pixel count (DuPL/MoRe: 1e-6).
        empty: ``'zero'``: an empty group contributes 0; ``'nan'``: no guard, plain
            ``sum / (count + eps)``, so with ``eps=0`` an empty group makes the loss (and its
            gradients) NaN, as ToCo's ``F.cross_entropy`` mean does; ``empty='nan', eps=1e-6``
            is DuPL/MoRe literally.

    Returns:
        scalar loss.
    """
    if empty not in ('zero', 'nan'):
        raise ValueError(f"bg_fg_seg_loss: empty must be 'zero' or 'nan', got {empty!r}")
    if logits.shape[0] != label.shape[0] or logits.shape[2:] != label.shape[1:]:
        raise ValueError(f'bg_fg_seg_loss: logits {tuple(logits.shape)} and label '
                         f'{tuple(label.shape)} differ in batch or spatial size')
    label = label.long()
    # per-pixel CE; ignored pixels give 0 and are in neither group
    ce = F.cross_entropy(logits, label, ignore_index=ignore_index, reduction='none')
    valid = label != ignore_index
    groups = (valid & (label == 0), valid & (label != 0))  # bg, fg
    loss = logits.new_zeros(())
    for mask in groups:
        count = mask.sum().to(ce.dtype)
        total = (ce * mask.to(ce.dtype)).sum()
        if empty == 'zero':
            # count is an integer, so count + eps < 1 only for an empty group, whose total is
            # 0: the clamp turns 0 / 0 into 0 and changes nothing else
            mean = total / (count + eps).clamp_min(1.0)
        else:
            # unguarded, exactly ToCo's mean: 0 / 0 = NaN (value and gradients) when eps = 0
            mean = total / (count + eps)
        loss = loss + 0.5 * mean
    return loss
