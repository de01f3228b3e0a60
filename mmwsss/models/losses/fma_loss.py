"""FMA's two prompt-learning losses (Yang & Gong, WACV'24), as plain tensor functions
plus registered modules with mmseg-style ``loss_weight`` / ``loss_name``.

* :func:`multilabel_cl_loss` -- ``MultiLabelCLLoss`` (``loss/multi_cls/cl_loss.py``) of
  the classification task, on the foreground logits;
* :func:`cam_intensity_loss` -- ``CAMIntensityLoss`` (``loss/cam_lb.py``) of the
  segmentation task, on the differentiable Grad-CAMs of the positive classes.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS

IGNORE_INDEX = 255


def multilabel_cl_loss(logits: Tensor,
                       labels: Tensor,
                       gamma: Optional[float] = None,
                       reduce: str = 'pos_mean') -> Tensor:
    """Multi-label contrastive loss: every positive against the image's negatives.

    For a positive class p of image n (only images with at least one positive and one
    negative count):
        l(n, p) = -(S_np - log(exp(S_np) + sum_{j in neg(n)} exp(S_nj)))
    ``'pos_mean'`` averages l over all positives of the batch; ``'sample_mean'``
    averages per image first, then over images.

    Args:
        logits: (N, C) similarities S (FMA: ``logit_scale * cos``, fg classes only).
        labels: (N, C) multi-hot.
        gamma: optional scale of S (FMA: None).
    Returns:
        scalar loss (0 with a gradient path when no image is valid).
    """
    if reduce not in ('pos_mean', 'sample_mean'):
        raise ValueError(f"reduce must be 'pos_mean' or 'sample_mean', got '{reduce}'")
    pos = labels > 0
    neg = ~pos
    valid = pos.any(1) & neg.any(1)  # (N,)
    if not bool(valid.any()):
        return logits.sum() * 0
    s = logits * gamma if gamma is not None else logits
    pos = pos & valid[:, None]
    neg = neg & valid[:, None]
    # log(e^{S_p} + sum_neg e^{S_j}) computed stably as a logsumexp
    neg_lse = torch.logsumexp(s.masked_fill(~neg, float('-inf')), dim=1, keepdim=True)  # (N, 1)
    denom = torch.logaddexp(s, neg_lse.expand_as(s))  # (N, C)
    per_pos = -(s - denom)[pos]  # (P,)
    if reduce == 'pos_mean':
        return per_pos.mean()
    rows = pos.nonzero()[:, 0]
    n_pos = pos.sum(1).float()
    return (per_pos / n_pos[rows]).sum() / valid.sum()


def cam_intensity_loss(pos_cams: Tensor,
                       img_labels: Tensor,
                       seed: Tensor,
                       loss_type: str = 'l1',
                       reduce: str = 'all',
                       detach_max: bool = True,
                       bg_thresh: float = 0.0,
                       fg_weight: float = 1.0,
                       bg_weight: float = 1.0,
                       ignore_index: int = IGNORE_INDEX,
                       bg_on_ignore: bool = False,
                       eps: float = 1e-5) -> Tensor:
    """CAM intensity loss of FMA's segmentation task.

    For each positive (image n, class c) with raw Grad-CAM ``cam`` (bilinearly resized,
    align_corners=False, to the seed size) and seed mask ``F = (seed_n == c + 1)``:
        fg term = |max(max_F cam, 0).detach() - cam|   on F,
        bg term = max(cam, bg_thresh) - bg_thresh       on the other pixels,
    (l1; l2 = half the squares). Seed pixels equal to ``ignore_index`` are in
    neither term (the paper's intent); the official ``bg_mask = 1 - fg_mask`` puts
    them in the bg term, which ``bg_on_ignore=True`` reproduces (FMA's SAMS seeds
    have no ignore pixel, so it only matters for padding). ``reduce='all'`` (FMA)
    is ``(fg + bg).sum() / (P * H * W)``: both terms over the total pixel count,
    ignored pixels included.
    ``'fg-bg'`` / ``'fg-bg-per-pos'`` average each term over its own pixels.

    Args:
        pos_cams: (P, h, w) CAMs of the positives, in the row-major order of
            ``img_labels.nonzero()`` (image, then class).
        img_labels: (N, C) multi-hot.
        seed: (N, H, W) long seed labels (0 bg, c + 1 fg, 255 ignore).
        fg_weight, bg_weight: weights of the two terms (FMA: 1, 1).
    Returns:
        scalar loss.
    """
    if loss_type not in ('l1', 'l2'):
        raise ValueError(f"loss_type must be 'l1' or 'l2', got '{loss_type}'")
    if pos_cams.shape[1:] != seed.shape[1:]:
        pos_cams = F.interpolate(
            pos_cams[:, None], size=seed.shape[1:], mode='bilinear', align_corners=False)[:, 0]
    rows, cls = img_labels.nonzero(as_tuple=True)
    if rows.numel() != pos_cams.shape[0]:
        raise ValueError(f'{pos_cams.shape[0]} CAMs for {rows.numel()} positive labels')
    fg_mask = (seed[rows] == (cls + 1)[:, None, None]).to(pos_cams.dtype)  # (P, H, W)
    bg_mask = 1 - fg_mask
    if not bg_on_ignore:
        bg_mask = bg_mask * (seed[rows] != ignore_index).to(pos_cams.dtype)
    fg_cam = pos_cams * fg_mask
    max_fg = fg_cam.amax(dim=(1, 2), keepdim=True).clamp(min=0)
    if detach_max:
        max_fg = max_fg.detach()
    fg_diff = max_fg - fg_cam
    bg_diff = (pos_cams * bg_mask).clamp(min=bg_thresh) - bg_thresh
    if loss_type == 'l1':
        fg_l, bg_l = fg_diff.abs(), bg_diff.abs()
    else:
        fg_l, bg_l = 0.5 * fg_diff**2, 0.5 * bg_diff**2
    fg_l = fg_weight * fg_l * fg_mask
    bg_l = bg_weight * bg_l * bg_mask
    if reduce == 'all':
        return (fg_l + bg_l).mean()
    if reduce == 'fg-bg':
        return (fg_l.sum() / (fg_mask.sum() + eps) + bg_l.sum() / (bg_mask.sum() + eps)) / 2
    if reduce == 'fg-bg-per-pos':
        per = (fg_l.sum((1, 2)) / (fg_mask.sum((1, 2)) + eps) + bg_l.sum((1, 2)) / (bg_mask.sum(
            (1, 2)) + eps)) / 2
        return per.mean()
    raise ValueError(f"unknown reduce '{reduce}'")


@MODELS.register_module()
class MultiLabelCLLoss(nn.Module):
    """:func:`multilabel_cl_loss` as a module (``forward(logits, labels)``)."""

    def __init__(self,
                 gamma: Optional[float] = None,
                 reduce: str = 'pos_mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_cls') -> None:
        super().__init__()
        self.gamma, self.reduce = gamma, reduce
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.loss_weight * multilabel_cl_loss(logits, labels, self.gamma, self.reduce)

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class CAMIntensityLoss(nn.Module):
    """:func:`cam_intensity_loss` as a module (``forward(pos_cams, img_labels, seed)``)."""

    def __init__(self,
                 loss_type: str = 'l1',
                 reduce: str = 'all',
                 detach_max: bool = True,
                 bg_thresh: float = 0.0,
                 fg_weight: float = 1.0,
                 bg_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX,
                 bg_on_ignore: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_cam') -> None:
        super().__init__()
        self.kwargs = dict(
            loss_type=loss_type,
            reduce=reduce,
            detach_max=detach_max,
            bg_thresh=bg_thresh,
            fg_weight=fg_weight,
            bg_weight=bg_weight,
            ignore_index=ignore_index,
            bg_on_ignore=bg_on_ignore)
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pos_cams: Tensor, img_labels: Tensor, seed: Tensor) -> Tensor:
        return self.loss_weight * cam_intensity_loss(pos_cams, img_labels, seed, **self.kwargs)

    @property
    def loss_name(self) -> str:
        return self._loss_name
