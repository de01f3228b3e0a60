"""MMCST's contrastive terms on the class tokens, as plain tensor functions.

MMCST's code could not be read (reference §8, "unverified"); the paper's abstract names no
loss. These two are our reading of "text-visual alignment" and "class-token contrast"
(configs/mmcst/README.md, open choices), written so that they are easy to compare with a
later official version:

* :func:`text_visual_contrast`: per image, the output visual token of class c and the output
  text token of class c are a positive pair, the other classes' tokens of the other modality
  are negatives (a symmetric, CLIP-style InfoNCE over the C classes);
* :func:`class_token_contrast`: over the batch, the tokens of the PRESENT classes (any
  modality) form a supervised contrast (SupCon): same class = positive (other images, other
  modality), other classes = negatives.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def text_visual_contrast(visual: Tensor,
                         text: Tensor,
                         labels: Tensor,
                         tau: float = 0.07,
                         anchors: str = 'present') -> Tensor:
    """Symmetric InfoNCE between the visual and the text class tokens of each image.

    Args:
        visual: (B, C, D) output visual class tokens.
        text: (B, C, D) output text class tokens.
        labels: (B, C) multi-hot image labels.
        tau: temperature of the cosine logits.
        anchors: ``'present'``: only the image's present classes are anchors;
            ``'all'``: every class.
    Returns:
        scalar: mean over the anchors (b, c) of
        ``0.5 * (CE_c(cos(v_bc, t_b.) / tau) + CE_c(cos(t_bc, v_b.) / tau))``;
        0 (with graph) when there is no anchor.
    """
    if anchors not in ('present', 'all'):
        raise ValueError(f"anchors must be 'present' or 'all', got {anchors!r}")
    B, C, _ = visual.shape
    v = F.normalize(visual, dim=-1)
    t = F.normalize(text, dim=-1)
    sim = v @ t.transpose(1, 2) / tau  # (B, C_v, C_t)
    target = torch.arange(C, device=visual.device).expand(B, C)
    v2t = F.cross_entropy(sim.reshape(B * C, C), target.reshape(-1), reduction='none')
    t2v = F.cross_entropy(
        sim.transpose(1, 2).reshape(B * C, C), target.reshape(-1), reduction='none')
    per = 0.5 * (v2t + t2v).view(B, C)
    mask = labels > 0 if anchors == 'present' else torch.ones_like(labels, dtype=torch.bool)
    if not mask.any():
        return sim.sum() * 0
    return per[mask].mean()


def class_token_contrast(tokens: Tensor,
                         token_classes: Sequence[int],
                         labels: Tensor,
                         tau: float = 0.1) -> Tensor:
    """Supervised contrast of the present-class tokens of a batch.

    Args:
        tokens: (B, T, D) output class tokens (e.g. T = 2C: C visual then C text).
        token_classes: (T,) the class of each token (e.g. ``[0..C-1, 0..C-1]``).
        labels: (B, C) multi-hot image labels; token t of image b takes part iff
            ``labels[b, token_classes[t]] > 0``.
        tau: temperature.
    Returns:
        scalar: mean over the anchors i that have a positive of
        ``-mean_{p in P(i)} log(exp(s_ip) / sum_{a != i} exp(s_ia))``, ``s = cos / tau``,
        P(i) = the other kept tokens of the same class; 0 (with graph) if no anchor has one.
    """
    cls_of = torch.as_tensor(list(token_classes), device=tokens.device, dtype=torch.long)
    if cls_of.numel() != tokens.shape[1]:
        raise ValueError(f'{cls_of.numel()} token classes for {tokens.shape[1]} tokens')
    keep = labels[:, cls_of] > 0  # (B, T)
    z = F.normalize(tokens[keep], dim=-1)  # (M, D)
    y = cls_of.expand_as(keep)[keep]  # (M,)
    if z.shape[0] < 2:
        return tokens.sum() * 0
    sim = z @ z.t() / tau
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    log_prob = sim - torch.logsumexp(sim.masked_fill(eye, float('-inf')), dim=1, keepdim=True)
    pos = (y[:, None] == y[None]) & ~eye
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not has.any():
        return tokens.sum() * 0
    per = -(log_prob * pos).sum(1)[has] / n_pos[has]
    return per.mean()


__all__ = ['text_visual_contrast', 'class_token_contrast']
