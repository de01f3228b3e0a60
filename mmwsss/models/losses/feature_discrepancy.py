"""DuPL's discrepancy loss between the features of two students (Wu et al., CVPR'24).

Official: ``train_final_voc.py`` ("Discrepancy loss"), on the final patch-token
maps ``fmap`` (B, C, h, w) of the two branches (post-norm last block, the
decoder's input)::

    f1 = fmap_1.view(B, C, -1); f2 = fmap_2.view(B, C, -1)
    cos = nn.CosineSimilarity(dim=-1, eps=1e-6)
    sim_loss = (1 + cos(f1.detach(), f2).mean()) + (1 + cos(f2.detach(), f1).mean())

The cosine runs along the flattened SPATIAL dimension: every channel's h*w map
of one branch is compared with the same channel's map of the other, and the
mean is over batch and channels. Minimising it pushes the two students' feature
maps apart (cosine towards -1), each direction moving only one branch.
"""
import torch.nn.functional as F
from torch import Tensor


def feature_discrepancy_loss(feat_a: Tensor, feat_b: Tensor, eps: float = 1e-6) -> Tensor:
    """``(1 + mean cos(a.detach(), b)) + (1 + mean cos(b.detach(), a))``.

    Args:
        feat_a, feat_b: (B, C, h, w) feature maps of the two branches (same shape).
        eps: of :func:`torch.nn.functional.cosine_similarity` (DuPL: 1e-6).
    Returns:
        scalar loss in [0, 4]; the value equals ``2 + 2 * mean cos(a, b)``, but the
        gradient of the first half reaches only ``b`` and of the second only ``a``.
    """
    if feat_a.shape != feat_b.shape or feat_a.dim() != 4:
        raise ValueError(f'feature_discrepancy_loss: features {tuple(feat_a.shape)} and '
                         f'{tuple(feat_b.shape)} must be the same (B, C, h, w)')
    a = feat_a.flatten(2)
    b = feat_b.flatten(2)
    loss_b = 1 + F.cosine_similarity(a.detach(), b, dim=-1, eps=eps).mean()
    loss_a = 1 + F.cosine_similarity(b.detach(), a, dim=-1, eps=eps).mean()
    return loss_b + loss_a
