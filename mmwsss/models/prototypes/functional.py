"""Prototype arithmetic shared by the prototype family (plain tensor functions).

Every prototype method does the same two things around its own rule for which pixels
count: pool features under (soft) masks into prototypes, and compare features with
prototypes by cosine similarity. Conventions:

    - ``feats``: (B, D, h, w) pixel features.
    - ``weights``: (B, K, h, w) non-negative soft masks, one per prototype slot.
    - ``protos``: (K, D) shared prototypes or (B, K, D) per-image ones.
    - similarity maps: (B, K, h, w).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

#: how :func:`masked_average` divides the weighted feature sum.
REDUCTIONS = ('weight', 'area')


def masked_average(feats: Tensor,
                   weights: Tensor,
                   reduction: str = 'weight',
                   eps: float = 1e-5) -> Tensor:
    """Per-image prototypes ``P[b, k] = sum_i w[b, k, i] f[b, :, i] / Z``.

    Args:
        feats: (B, D, h, w) features.
        weights: (B, K, h, w) soft masks (resized to the features by the caller).
        reduction: ``'weight'``: Z = sum_i w + eps (a weighted mean: RCA, PPC, WDASS);
            ``'area'``: Z = h * w (``adaptive_avg_pool2d(w * f)``: SIPE / PSDPM, whose
            scale is then removed by the cosine that follows).
        eps: the stabiliser of ``'weight'``.
    Returns:
        (B, K, D) prototypes (not normalised).
    """
    if feats.dim() != 4 or weights.dim() != 4:
        raise ValueError(f'feats and weights must be (B, D, h, w) and (B, K, h, w), got '
                         f'{tuple(feats.shape)} and {tuple(weights.shape)}')
    if feats.shape[0] != weights.shape[0] or feats.shape[2:] != weights.shape[2:]:
        raise ValueError(f'feats {tuple(feats.shape)} and weights {tuple(weights.shape)} '
                         'differ in batch or spatial size')
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got '{reduction}'")
    total = torch.einsum('bkn,bdn->bkd', weights.flatten(2), feats.flatten(2))
    if reduction == 'area':
        return total / float(feats.shape[2] * feats.shape[3])
    return total / (weights.flatten(2).sum(-1, keepdim=True) + eps)


def cosine_maps(feats: Tensor, protos: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of every pixel feature with every prototype.

    Args:
        feats: (B, D, h, w) features.
        protos: (K, D) shared or (B, K, D) per-image prototypes.
        eps: the norm floor (``F.normalize``'s ``eps``; torch's ``cosine_similarity``
            floors the product of the norms instead, which differs only for
            near-zero vectors).
    Returns:
        (B, K, h, w) similarities in [-1, 1].
    """
    if feats.dim() != 4:
        raise ValueError(f'feats must be (B, D, h, w), got {tuple(feats.shape)}')
    if protos.dim() not in (2, 3) or protos.shape[-1] != feats.shape[1]:
        raise ValueError(f'protos must be (K, {feats.shape[1]}) or (B, K, {feats.shape[1]}), '
                         f'got {tuple(protos.shape)}')
    f = F.normalize(feats, dim=1, eps=eps)
    p = F.normalize(protos, dim=-1, eps=eps)
    if p.dim() == 2:
        return torch.einsum('kd,bdhw->bkhw', p, f)
    if p.shape[0] != f.shape[0]:
        raise ValueError(f'per-image protos {tuple(protos.shape)} do not match batch '
                         f'{f.shape[0]}')
    return torch.einsum('bkd,bdhw->bkhw', p, f)
