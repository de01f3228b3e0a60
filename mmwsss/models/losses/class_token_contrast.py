"""MoRe's class-token losses as plain tensor functions (Yang et al., AAAI'25).

Reference: zwyang6/MoRe ``model/losses.py`` (``multi_cls_loss``, ``CRELoss_neg``,
``URELoss_neg``; the stored revision names the last two ``DRELoss_neg`` and
``SRELoss_neg``, same bodies) and ``scripts/train_voc.py``. Shapes:

* class tokens ``(B, C, D)``: the C = 20 (COCO 80) class tokens after GCR;
* patch map ``(B, D, h, w)``: the final (post-norm) patch tokens, ToCo's ``_x4``;
* label ``(B, h, w)`` long on the token grid: 0 bg, c + 1 class c, 255 ignore
  (``cam_to_label`` with ``ignore_mid``);
* image labels ``(B, C)`` multi-hot.

Every function is importable on its own so it can be compared with the official
code on identical tensors (randomness: ``torch.randperm`` on the global generator,
as the official code, or on ``generator``).
"""
import math
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'attri_loss', 'cle_loss', 'label_to_roi', 'select_uncertain_tokens', 'une_loss', 'lam_maps'
]


def attri_loss(tokens: Tensor, temp: float = 0.07) -> Tensor:
    """``multi_cls_loss(only_regu=True)``: keep the class tokens apart.

    ``CE(norm(t) norm(t)^T / temp, arange(C))`` averaged over the B*C rows.

    Args:
        tokens: (B, C, D) class tokens.
        temp: temperature (MoRe 0.07).
    """
    B, C, _ = tokens.shape
    t = F.normalize(tokens, dim=-1)
    logits = t @ t.transpose(1, 2) / temp  # (B, C, C)
    target = torch.arange(C, device=tokens.device).expand(B, C)
    return F.cross_entropy(logits, target)


def cle_loss(tokens: Tensor,
             patch_map: Tensor,
             label: Tensor,
             img_labels: Tensor,
             temp: float = 0.5,
             eps: float = 1e-4) -> Tensor:
    """``CRELoss_neg``: each present class token vs the patch tokens labelled with it.

    ``z[k, j] = norm(t_k) . P_j / temp`` with the patch tokens P DETACHED and NOT
    normalised; per image and present class k, the mean over patches j with
    ``label == k + 1`` of ``-log(exp z[k, j] / (sum_j' exp z[k, j'] + eps))``
    (divided by ``count + eps``); summed over classes, averaged over the batch.
    Gradients reach the class tokens only.

    Computed as ``log(sum exp + eps) - z`` with a log-sum-exp (the official
    ``exp`` overflows for |z| > 88 in float32; where it does not, the values agree).
    Where every ``exp z`` of a row underflows to 0 the official code uses
    ``-log(1 / (1 + eps))``; reproduced.

    Args:
        tokens: (B, C, D) class tokens.
        patch_map: (B, D, h, w) final patch tokens.
        label: (B, h, w) long, token-grid pseudo label.
        img_labels: (B, C) multi-hot.
        temp: MoRe VOC 0.5 (COCO 0.1).
    """
    B, C, _ = tokens.shape
    t = F.normalize(tokens, p=2, dim=2, eps=1e-8)
    p = patch_map.detach().flatten(2)  # (B, D, hw)
    z = t @ p / temp  # (B, C, hw)
    log_den = torch.logaddexp(torch.logsumexp(z, -1, keepdim=True), z.new_tensor(math.log(eps)))
    nll = log_den - z
    underflow = torch.exp(z).sum(-1, keepdim=True) == 0
    nll = torch.where(underflow, nll.new_tensor(math.log1p(eps)).expand_as(nll), nll)
    cls_ids = torch.arange(1, C + 1, device=label.device).view(1, C, 1)
    flags = (label.flatten(1)[:, None, :] == cls_ids).to(nll.dtype)  # (B, C, hw)
    per_class = (flags * nll).sum(-1) / (flags.sum(-1) + eps)  # (B, C)
    return (per_class * (img_labels == 1).to(nll.dtype)).sum() / B


def label_to_roi(label: Tensor, ignore_index: int = 255) -> Tensor:
    """``mask2roi``: 0 background, 1 ignore (uncertain), 2 foreground; same shape."""
    roi = torch.zeros_like(label)
    roi[label == ignore_index] = 1
    roi[(label >= 1) & (label != ignore_index)] = 2
    return roi


def select_uncertain_tokens(roi: Tensor,
                            crop_num: int = 8,
                            kernel_size: int = 6,
                            win_thr: float = 1.2,
                            pad_div: int = 4,
                            token: str = 'centre',
                            generator: Optional[torch.Generator] = None) -> Tensor:
    """``uncertain_kernel_search`` for one image: the (row, col) of the picked tokens.

    With ``m = kernel_size // 2``, a position (a, b) of the inner grid
    ``[m, h - m) x [m, w - m)`` is a candidate when ``roi[a, b] == 1`` (uncertain) and
    the ``kernel_size`` window ``roi[a - m : a - m + k, b - m : b - m + k]`` has a mean
    >= ``win_thr`` (1.2: at least 20 % fg weight among uncertain pixels). More than
    ``crop_num`` candidates: ``crop_num`` of them at random. Otherwise all of them plus
    ``(crop_num - n) // pad_div`` random fg positions (roi 2) of the inner grid (any
    inner position when there are fewer fg positions than needed): the official
    ``add_idx = (crop_num - len) // 4`` (its commented-out alternative pads to 8).

    Args:
        roi: (h, w) from :func:`label_to_roi`.
        token: ``'centre'`` returns the tested positions (a, b). ``'corner'`` is the
            official indexing quirk: the code tests ``roi`` at (a, b) but then takes the
            token at the window's top-left corner (a - m, b - m).
        generator: for ``torch.randperm`` (None: the global generator, as the official).

    Returns:
        (n, 2) long positions, n <= crop_num (n = 0 only when the inner grid is empty).
    """
    if token not in ('centre', 'corner'):
        raise ValueError(f"token must be 'centre' or 'corner', got {token!r}")
    h, w = roi.shape
    m = kernel_size // 2
    inner = roi[m:h - m, m:w - m]
    if inner.numel() == 0:
        return roi.new_zeros((0, 2), dtype=torch.long)
    cand = (inner == 1).nonzero()  # inner coordinates = window top-left corners
    if len(cand):
        win = roi.float().unfold(0, kernel_size, 1).unfold(1, kernel_size, 1)
        mean = win.mean((-1, -2))[cand[:, 0], cand[:, 1]]
        cand = cand[mean >= win_thr]

    def perm(n: int) -> Tensor:
        return torch.randperm(n, generator=generator).to(roi.device)

    if len(cand) > crop_num:
        picked = cand[perm(len(cand))[:crop_num]]
    else:
        add = (crop_num - len(cand)) // pad_div
        pos = (inner == 2).nonzero()
        if len(pos) < add:
            pos = (inner >= 0).nonzero()
        picked = torch.cat([cand, pos[perm(len(pos))[:add]]], 0)
    return picked + m if token == 'centre' else picked


def une_loss(tokens: Tensor,
             patch_map: Tensor,
             label: Tensor,
             img_labels: Tensor,
             crop_num: int = 8,
             kernel_size: int = 6,
             win_thr: float = 1.2,
             pad_div: int = 4,
             token: str = 'centre',
             generator: Optional[torch.Generator] = None) -> Tensor:
    """``URELoss_neg``: uncertain patch tokens vs the DETACHED class tokens.

    Per image, tokens picked by :func:`select_uncertain_tokens` on
    ``label_to_roi(label)``; for a picked (normalised) token u and the normalised
    class tokens c_k, ``s_k = |u . c_k|`` and
    ``0.5 (1 - sum_{y_k=1} s_k / (n_pos + 1)) + 0.5 sum_{y_k=0} s_k / (n_neg + 1)``;
    averaged over all picked tokens of the batch (0 when none). Gradients reach the
    patch tokens only.

    Args: see :func:`cle_loss` and :func:`select_uncertain_tokens`.
    """
    p = F.normalize(patch_map, p=2, dim=1, eps=1e-8)
    c = F.normalize(tokens, p=2, dim=2, eps=1e-8).detach()
    roi = label_to_roi(label)
    pos = img_labels.to(p.dtype)
    neg = (img_labels == 0).to(p.dtype)
    losses: List[Tensor] = []
    for i in range(p.shape[0]):
        idx = select_uncertain_tokens(roi[i], crop_num, kernel_size, win_thr, pad_div, token,
                                      generator)
        if len(idx) == 0:
            continue
        u = p[i, :, idx[:, 0], idx[:, 1]].t()  # (n, D)
        s = (u @ c[i].t()).abs()  # (n, C)
        losses.append(0.5 * (1 - (s * pos[i]).sum(-1) / (pos[i].sum() + 1)) + 0.5 *
                      (s * neg[i]).sum(-1) / (neg[i].sum() + 1))
    if not losses:
        return patch_map.sum() * 0
    return torch.cat(losses).mean()


def lam_maps(patch_map: Tensor, tokens: Tensor) -> Tensor:
    """MoRe's LAM (``multi_scale_lam2``): class-token x patch-token dot products.

    ``einsum('bchw,bkc->bkhw')``: (B, D, h, w) x (B, C, D) -> (B, C, h, w).
    """
    return torch.einsum('bchw,bkc->bkhw', patch_map, tokens)
