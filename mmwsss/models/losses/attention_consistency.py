"""ACR's all-pairs attention consistency (Sun et al., ICCV'23 Workshop) as plain tensor functions.

ACR (OpenNLPLab/ACR_WSSS ``train_acr.py``) runs the ViT on a batch and on its horizontal
flip, takes every block's head-mean attention ``A`` (B, L, N, N) with N = 1 + h * w
(class token first, then the h x w patch tokens in row-major order), flips view 2's
token grid back and asks both views to agree:

    L_cls = mean |A1[:, :, 0, 1:]  - U(A2[:, :, 0, 1:])|          (class-to-patch attention)
    L_aff = mean |A1[:, :, 1:, 1:] - U2(A2[:, :, 1:, 1:])|        (patch-to-patch affinity)

(``F.l1_loss`` means over batch, layers and tokens), each weighted by alpha = 125
(``train_acr.sh``; argparse default 100). ``U`` reverses the token order inside every row of
the grid; ``U2`` does it on both token axes of the affinity.

The official loop uses ``p = h_img // 16`` tokens per row and as many rows, i.e. it assumes
a square crop. Here the grid is given as (h, w): a row holds ``w`` tokens and there are
``h`` rows, which is the same permutation on a square grid and the correct one otherwise.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def flip_token_index(grid: Tuple[int, int], device=None) -> Tensor:
    """Index (h * w,) mapping a row-major token grid to its horizontal mirror.

    Token ``r * w + c`` of the flipped image sits at column ``w - 1 - c`` of the original
    image, so ``x[..., flip_token_index(grid)]`` re-orders flipped-view tokens into the
    original view's order (the map is its own inverse).

    Args:
        grid: (h, w) token rows and tokens per row.
    Returns:
        long tensor (h * w,).
    """
    h, w = int(grid[0]), int(grid[1])
    return torch.arange(h * w, device=device).view(h, w).flip(-1).reshape(-1)


def unflip_tokens(x: Tensor, grid: Tuple[int, int], dims: Sequence[int] = (-1, )) -> Tensor:
    """Undo a horizontal flip along token axes of length h * w (row-major grid).

    Args:
        x: any tensor whose ``dims`` have length h * w (patch tokens only, no prefix).
        grid: (h, w).
        dims: the token axes to re-order (e.g. (-2, -1) for a patch-to-patch affinity).
    Returns:
        a new tensor of the same shape.
    """
    idx = flip_token_index(grid, x.device)
    for d in dims:
        if x.shape[d] != idx.numel():
            raise ValueError(f'unflip_tokens: axis {d} has {x.shape[d]} tokens, the grid '
                             f'{tuple(grid)} has {idx.numel()}')
        x = x.index_select(d, idx)
    return x


def head_mean_attention(attns: Sequence[Tensor]) -> Tensor:
    """Stack per-block attention maps (B, heads, N, N) into (B, L, N, N) head means
    (ACR ``forward_cls``: ``torch.mean(attn, dim=1)`` per block, stacked on dim 1)."""
    return torch.stack([a.mean(1) for a in attns], 1)


def attention_consistency_loss(attn1: Tensor,
                               attn2: Tensor,
                               grid: Tuple[int, int],
                               num_prefix: int = 1,
                               flipped: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """ACR's class-attention and affinity L1 terms between a view and its flip.

    Args:
        attn1: (B, L, N, N) head-mean attention of the original view, N = K + h * w.
        attn2: (B, L, N, N) the same for the flipped view.
        grid: (h, w) patch-token grid (rows, tokens per row).
        num_prefix: K, prefix tokens (class token first; ACR reads row 0 and
            drops the first token of each axis, so K = 1 for a plain ViT).
        flipped: optional (B,) bool, which samples of view 2 are flipped (all of
            them in ACR); unflipped samples are compared as they are.
    Returns:
        ``(loss_cls, loss_aff)`` scalars, unweighted: mean |A1[:, :, 0, K:] -
        U(A2[:, :, 0, K:])| and mean |A1[:, :, K:, K:] - U2(A2[:, :, K:, K:])|.
    """
    if attn1.shape != attn2.shape or attn1.dim() != 4:
        raise ValueError(f'attention maps must both be (B, L, N, N), got {tuple(attn1.shape)} '
                         f'and {tuple(attn2.shape)}')
    k = int(num_prefix)
    n = attn1.shape[-1] - k
    if n != grid[0] * grid[1]:
        raise ValueError(f'{attn1.shape[-1]} tokens minus {k} prefix tokens != grid '
                         f'{tuple(grid)}')
    cls2 = attn2[:, :, 0, k:]
    aff2 = attn2[:, :, k:, k:]
    cls2_u = unflip_tokens(cls2, grid, dims=(-1, ))
    aff2_u = unflip_tokens(aff2, grid, dims=(-2, -1))
    if flipped is not None:
        f = flipped.to(attn2.device, torch.bool)
        cls2_u = torch.where(f[:, None, None], cls2_u, cls2)
        aff2_u = torch.where(f[:, None, None, None], aff2_u, aff2)
    loss_cls = F.l1_loss(attn1[:, :, 0, k:], cls2_u, reduction='mean')
    loss_aff = F.l1_loss(attn1[:, :, k:, k:], aff2_u, reduction='mean')
    return loss_cls, loss_aff
