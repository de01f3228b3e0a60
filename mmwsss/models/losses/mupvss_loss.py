"""MuP-VSS's three prototype losses as plain tensor functions (Duan, Yang, Wang, CVPR'25).

NO OFFICIAL CODE EXISTS (reference methods-prototype.md §8); the abstract names the losses
and what each one wants, nothing more. The formulas below are our reading, written as
InfoNCE / cross-entropy forms over cosine similarities with a temperature; every choice is
an argument and is listed in configs/mupvss/README.md.

Shapes:

* prototypes ``(B, C, E)``: one per foreground class and image (the PEM's output);
* image labels ``(B, C)`` multi-hot;
* patch tokens ``(B, E, h, w)``;
* pseudo label ``(B, h, w)`` long on the token grid: 0 bg, c + 1 class c, 255 ignore.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..prototypes.functional import cosine_maps, masked_average

__all__ = ['ccp_contrast', 'cip_contrast', 'p2p_consistency']

IGNORE_INDEX = 255


def ccp_contrast(protos: Tensor,
                 img_labels: Tensor,
                 tau: float = 0.1,
                 anchors: str = 'present',
                 negatives: str = 'all') -> Tensor:
    """Cross-class prototype (CCP) contrast: the prototypes of one image exclude each other.

    ``s[b, c, c'] = cos(P[b, c], P[b, c']) / tau``; every anchor (b, c) is its own positive
    and the other prototypes of the SAME image are its negatives:
    ``l[b, c] = logsumexp_{c' in K(b, c)} s[b, c, c'] - s[b, c, c]``, averaged over the anchors
    (0 with a graph when there is none).

    Args:
        protos: (B, C, E).
        img_labels: (B, C) multi-hot.
        tau: temperature.
        anchors: ``'present'`` (the image's classes: its multi-label prototypes) or ``'all'``.
        negatives: ``'all'`` (K = all C prototypes of the image) or ``'present'`` (the present
            ones; the anchor is always in K).
    Returns:
        scalar. With ``anchors='all', negatives='all'`` this is MoRe's ``attri_loss``
        (:func:`mmwsss.models.losses.class_token_contrast.attri_loss`).
    """
    if anchors not in ('present', 'all') or negatives not in ('present', 'all'):
        raise ValueError(f"anchors / negatives must be 'present' or 'all', got {anchors!r} / "
                         f'{negatives!r}')
    b, c, _ = protos.shape
    z = F.normalize(protos, dim=-1)
    sim = z @ z.transpose(1, 2) / tau  # (B, C, C)
    present = img_labels > 0
    eye = torch.eye(c, dtype=torch.bool, device=protos.device)[None]
    if negatives == 'present':
        keys = (present[:, None, :] | eye).expand(b, c, c)
    else:
        keys = torch.ones_like(sim, dtype=torch.bool)
    lse = torch.logsumexp(sim.masked_fill(~keys, float('-inf')), -1)  # (B, C)
    loss = lse - torch.diagonal(sim, dim1=1, dim2=2)
    mask = present if anchors == 'present' else torch.ones_like(present)
    if not mask.any():
        return protos.sum() * 0
    return loss[mask].mean()


def cip_contrast(anchors: Tensor,
                 anchor_cls: Tensor,
                 keys: Tensor,
                 key_cls: Tensor,
                 tau: float = 0.1,
                 exclude: Optional[Tensor] = None) -> Tensor:
    """Cross-image prototype (CIP) contrast: same-class prototypes of other images (or of a
    memory) attract, other classes repel (a supervised InfoNCE).

    ``s[n, m] = cos(a_n, k_m) / tau``; for an anchor n with positives
    ``Pos(n) = {m : key_cls[m] == anchor_cls[n], not exclude[n, m]}`` and keys
    ``K(n) = {m : not exclude[n, m]}``:
    ``l[n] = mean_{m in Pos(n)} (logsumexp_{m' in K(n)} s[n, m'] - s[n, m])``, averaged over
    the anchors with at least one positive (0 with a graph when there is none).

    Args:
        anchors: (N, E) prototypes of the present classes of the batch.
        anchor_cls: (N,) their class indices.
        keys: (M, E) memory slots (:class:`PrototypeBank`) and/or other images' prototypes.
        key_cls: (M,) their class indices.
        tau: temperature.
        exclude: optional (N, M) bool, keys an anchor must not see (its own image's).
    Returns:
        scalar.
    """
    if anchors.numel() == 0 or keys.numel() == 0:
        return anchors.sum() * 0 + keys.sum() * 0
    s = F.normalize(anchors, dim=-1) @ F.normalize(keys, dim=-1).t() / tau  # (N, M)
    visible = torch.ones_like(s, dtype=torch.bool) if exclude is None else ~exclude.bool()
    pos = (anchor_cls[:, None] == key_cls[None, :]) & visible
    has_pos = pos.any(1)
    if not has_pos.any():
        return s.sum() * 0
    # only anchors with a positive (a row with no visible key would put -inf - -inf = NaN
    # into the backward of logsumexp)
    s, visible, pos = s[has_pos], visible[has_pos], pos[has_pos]
    lse = torch.logsumexp(s.masked_fill(~visible, float('-inf')), 1, keepdim=True)  # (N', 1)
    nll = (lse - s).masked_fill(~pos, 0.0)
    return (nll.sum(1) / pos.sum(1).to(s.dtype)).mean()


def p2p_consistency(patches: Tensor,
                    protos: Tensor,
                    label: Tensor,
                    img_labels: Tensor,
                    tau: float = 0.1,
                    bg: str = 'masked_mean',
                    eps: float = 1e-5) -> Tensor:
    """Patch-to-prototype (P2P) consistency: each labelled patch is closest to the prototype of
    its pseudo class among its image's prototypes.

    Per image b, the candidate prototypes are the background prototype (``bg='masked_mean'``:
    the mean of the patches labelled 0, DETACHED, :func:`masked_average`) and the prototypes of
    the present classes. ``s[b, k, i] = cos(x_i, proto_k) / tau`` for k in {bg, 1..C}; absent
    classes (and bg when the image has no bg patch, or ``bg='none'``) are masked out. Loss: the
    cross-entropy of ``s[b, :, i]`` with ``label[b, i]`` averaged over the patches with a valid
    label (not 255, a present class; bg patches only when there is a bg prototype). Gradients
    reach the patch tokens and the class prototypes.

    Args:
        patches: (B, E, h, w) patch tokens.
        protos: (B, C, E) class prototypes.
        label: (B, h, w) long pseudo label on the token grid.
        img_labels: (B, C) multi-hot.
        tau: temperature.
        bg: ``'masked_mean'`` or ``'none'`` (only foreground patches, among the present
            class prototypes).
        eps: :func:`masked_average`'s stabiliser.
    Returns:
        scalar (0 with a graph when no patch is labelled).
    """
    if bg not in ('masked_mean', 'none'):
        raise ValueError(f"bg must be 'masked_mean' or 'none', got {bg!r}")
    if label.shape[-2:] != patches.shape[-2:]:
        raise ValueError(f'label {tuple(label.shape)} is not on the token grid '
                         f'{tuple(patches.shape[-2:])}')
    b, c, _ = protos.shape
    present = img_labels > 0  # (B, C)
    is_bg = (label == 0)
    if bg == 'masked_mean':
        bg_proto = masked_average(patches.detach(), is_bg[:, None].to(patches.dtype), eps=eps)
        has_bg = is_bg.flatten(1).any(1)  # (B,)
    else:
        bg_proto = protos.new_zeros(b, 1, protos.shape[-1])
        has_bg = torch.zeros(b, dtype=torch.bool, device=protos.device)
    cands = torch.cat([bg_proto, protos], 1)  # (B, 1 + C, E)
    logits = cosine_maps(patches, cands) / tau  # (B, 1 + C, h, w)
    allowed = torch.cat([has_bg[:, None], present], 1)  # (B, 1 + C)
    # a finite fill (exp underflows to 0 at 1/tau-sized logits): an image with no candidate
    # at all would otherwise put NaN into the backward of log_softmax
    logits = logits.masked_fill(~allowed[..., None, None], -1e4)
    # a patch counts when its label is an allowed candidate
    safe = label.clone()
    safe[safe == IGNORE_INDEX] = 0
    ok = (label != IGNORE_INDEX) & torch.gather(allowed, 1, safe.flatten(1)).view_as(label)
    if not ok.any():
        return patches.sum() * 0 + protos.sum() * 0
    logp = F.log_softmax(logits, 1)
    nll = -torch.gather(logp, 1, safe[:, None]).squeeze(1)  # (B, h, w)
    return nll[ok].mean()
