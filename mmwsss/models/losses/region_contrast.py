"""RCA's regional semantic contrast (Zhou et al., CVPR'22) as plain tensor functions.

Official code: maeve07/RCA ``models/rca.py::RCAModel.forward`` (the contrast with
embedding mix-up) and ``_dequeue_and_enqueue`` (the memory write). Conventions:

    - ``coarse``: (B, C, h, w) logits of the coarse branch (``map_coarse``).
    - ``feats``: (B, D, h, w) raw backbone features ``x`` (memory) or the projection
      ``mid = extra_F(x)`` (contrast anchors).
    - ``memory``: (C, S, D) the regional memory (C classes x S queue slots), class-major.

Every random choice (mix-up partner image and class, lambda) is an argument, so the same
numbers can be fed to the official code; :func:`sample_mixup` draws them as RCA does.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..prototypes.functional import masked_average


def rca_region_masks(coarse: Tensor) -> Tensor:
    """RCA's region of class c: ``softmax_c(coarse)[c] > mean over pixels of that map``.

    Args:
        coarse: (B, C, h, w) coarse-branch logits.
    Returns:
        (B, C, h, w) bool masks (every class, present or not).
    """
    soft = F.softmax(coarse, dim=1)
    return soft > soft.mean(dim=(2, 3), keepdim=True)


def rca_memory_embeddings(feats: Tensor,
                          coarse: Tensor,
                          labels: Tensor,
                          probs: Tensor,
                          conf: float = 0.7,
                          chain_masks: bool = False) -> Tuple[Tensor, Tensor]:
    """The embeddings ``_dequeue_and_enqueue`` writes, and which (image, class) write.

    A present class c with ``probs[b, c] > conf`` writes the mean of the raw features over
    its region mask (:func:`rca_region_masks`).

    Args:
        feats: (B, D, h, w) raw backbone features ``x``.
        coarse: (B, C, h, w) coarse logits (the mask source).
        labels: (B, C) multi-hot image labels.
        probs: (B, C) sigmoid of the fine head's GAP logits.
        conf: RCA's 0.7.
        chain_masks: the official quirk: ``x = x * mask`` is reassigned inside the loop
            over an image's classes (in class order), so a later class pools features
            already multiplied by the earlier classes' masks (its denominator stays its
            own mask's area). False: each class pools the unmasked features (the paper).
    Returns:
        ``(emb (B, C, D), write (B, C) bool)``; rows with ``write`` False are zeros.
        The division is :func:`masked_average`'s (area + 1e-5: within 1e-5 relative of the
        official ``/ mask.sum()``; an empty mask gives zeros, not NaN).
    """
    masks = rca_region_masks(coarse).to(feats.dtype)
    write = labels.bool() & (probs > conf)
    if not chain_masks:
        emb = masked_average(feats, masks)
        return emb * write[..., None].to(emb.dtype), write
    b, c = labels.shape
    emb = feats.new_zeros(b, c, feats.shape[1])
    for i in range(b):
        x = feats[i:i + 1]
        for k in write[i].nonzero(as_tuple=True)[0].tolist():
            m = masks[i:i + 1, k:k + 1]
            x = x * m
            emb[i, k] = masked_average(x, m)[0, 0]
    return emb, write


def sample_mixup(
        labels: Tensor,
        alpha: float = 8.0,
        generator: Optional[torch.Generator] = None,
        rng: Optional[np.random.Generator] = None) -> List[Tuple[int, int, int, int, float]]:
    """Draw RCA's mix-up partners: one ``(i, c, i2, c2, lam)`` per present (image, class).

    As the official loop: for image i and each of its present classes c (ascending), the
    partner image is ``randperm(B)[i]`` (any image, i itself included), its class a random
    one of the partner's present classes, and ``lam ~ Beta(alpha, alpha)``
    (``np.random.beta``; ``rng`` a numpy Generator, else numpy's global state, which
    mmengine's ``randomness.seed`` seeds).

    Args:
        labels: (B, C) multi-hot image labels (every image has >= 1 class).
    """
    b = labels.shape[0]
    present = [labels[i].nonzero(as_tuple=True)[0].tolist() for i in range(b)]
    out = []
    for i in range(b):
        for c in present[i]:
            i2 = int(torch.randperm(b, generator=generator)[i])
            if not present[i2]:
                raise ValueError(f'image {i2} of the batch has no label to mix with')
            c2 = present[i2][int(torch.randperm(len(present[i2]), generator=generator)[0])]
            lam = float(rng.beta(alpha, alpha) if rng is not None else np.random.beta(alpha, alpha))
            out.append((i, c, i2, c2, lam))
    return out


def rca_contrast_anchor_loss(anchor: Tensor,
                             memory: Tensor,
                             cls: int,
                             max_logit: Tensor,
                             exp_all: Tensor,
                             tau: float = 0.07) -> Tensor:
    """One official ``closs``: class ``cls``'s queue entries are the positives.

    ``-mean_p [ l_p - log( sum_{n not in cls} e^{l_n} + e^{l_p} ) ]`` with every logit
    shifted by ``max_logit`` (the max over all C*S entries) and the log clamped at
    ``log(1e-4)`` as the official code does.

    Args:
        anchor: (D,) normalised anchor. memory: (C, S, D) normalised, detached.
        max_logit: () the max of all logits. exp_all: (C, S) ``exp(l - max_logit)``.
    """
    logit_pos = torch.einsum('d,sd->s', anchor, memory[cls]) / tau - max_logit
    others = torch.arange(exp_all.shape[0], device=exp_all.device) != cls
    neg = exp_all[others].sum()
    return (-(logit_pos - torch.log((neg + torch.exp(logit_pos)).clamp(min=1e-4)))).mean()


def region_contrast_mixup_loss(mid: Tensor,
                               coarse: Tensor,
                               labels: Tensor,
                               memory: Tensor,
                               mixes: List[Tuple[int, int, int, int, float]],
                               tau: float = 0.07) -> Tensor:
    """RCA's ``loss_cl_mixup`` for one batch (before the 0.01 weight).

    For each mix ``(i, c, i2, c2, lam)`` (see :func:`sample_mixup`): the region embeddings
    ``e = mean of mid[i] over region(i, c)`` and ``e2`` of (i2, c2) (masks detached,
    :func:`rca_region_masks`), ``a = normalise(lam * e + (1 - lam) * e2)``, logits
    ``a . normalise(memory)^T / tau`` over all C*S entries (memory detached), and
    ``lam * closs(c) + (1 - lam) * closs(c2)`` (:func:`rca_contrast_anchor_loss`).
    Image i's losses are averaged over its mixes (its present classes); the batch sums
    the images (the official ``loss_cl_mixup`` is a sum over the batch).

    Args:
        mid: (B, D, h, w) projected features ``extra_F(x)`` (with gradient).
        coarse: (B, C, h, w) coarse logits (masks only, no gradient through them).
        labels: (B, C) multi-hot labels (for the per-image class count).
        memory: (C, S, D) the regional memory as it was before this batch's writes.
        mixes: the drawn partners; an empty list gives 0.
        tau: 0.07.
    Returns:
        () the loss.
    """
    masks = rca_region_masks(coarse.detach()).to(mid.dtype)
    pooled = masked_average(mid, masks)  # (B, C, D)
    mem = F.normalize(memory.detach().to(mid.dtype), dim=-1)
    per_image = [mid.new_zeros(()) for _ in range(mid.shape[0])]
    for i, c, i2, c2, lam in mixes:
        a = F.normalize(lam * pooled[i, c] + (1.0 - lam) * pooled[i2, c2], dim=0)
        logits = torch.einsum('d,csd->cs', a, mem) / tau
        max_logit = logits.max().detach()
        exp_all = torch.exp(logits - max_logit)
        l1 = rca_contrast_anchor_loss(a, mem, c, max_logit, exp_all, tau)
        l2 = rca_contrast_anchor_loss(a, mem, c2, max_logit, exp_all, tau)
        per_image[i] = per_image[i] + lam * l1 + (1.0 - lam) * l2
    counts = labels.bool().sum(1).clamp(min=1).to(mid.dtype)
    return sum(p / n for p, n in zip(per_image, counts))
