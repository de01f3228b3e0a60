"""MaskCLIP dense CLIP features (Zhou, Loy, Dai, ECCV'22) on :class:`OpenCLIP`.

MaskCLIP drops the query-key attention of the LAST block of the CLIP ViT and keeps its
value path, so that every patch token is mapped into the joint image-text space on its
own: ``v = x + out_proj(W_v ln_1(x))``, ``v = v + mlp(ln_2(v))``, then ``ln_post`` and
``proj``. CARB (Kim et al., AAAI'24) reads its CLIP pseudo masks from these features
(its ``VisionTransformer(return_qkv=True)`` + ``proj`` conv 768 -> 512).

Blocks 0..L-2 run unchanged. The positional embedding is resized to the input grid:
``'bilinear'`` is :meth:`OpenCLIP.pos_embed` (CLIP-ES / WeCLIP), ``'bicubic'`` is mmseg's
``VisionTransformer.resize_pos_embed`` (``interpolate_mode='bicubic'``,
``align_corners=False``), which MaskCLIP / CARB use.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .open_clip_model import OpenCLIP

POS_INTERP_MODES = ('bilinear', 'bicubic')


def interpolated_pos_embed(clip: OpenCLIP, grid: Tuple[int, int], mode: str = 'bicubic') -> Tensor:
    """(1 + h*w, D) positional embedding of ``clip`` on a (h, w) patch grid.

    ``'bilinear'`` defers to :meth:`OpenCLIP.pos_embed`; ``'bicubic'`` resizes the
    patch part with ``F.interpolate(mode='bicubic', align_corners=False)`` (CLS row
    kept), as mmseg's ViT does; the training grid is returned unchanged in both.
    """
    if mode not in POS_INTERP_MODES:
        raise ValueError(f'pos_interp must be one of {POS_INTERP_MODES}, got {mode!r}')
    if mode == 'bilinear':
        return clip.pos_embed(grid)
    visual = clip.clip.visual
    pos = visual.positional_embedding
    gh, gw = visual.grid_size
    if tuple(grid) == (gh, gw):
        return pos
    patch = pos[1:].reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, size=tuple(grid), mode='bicubic', align_corners=False)
    patch = patch.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)
    return torch.cat([pos[:1], patch], 0)


def value_path(block: torch.nn.Module, x: Tensor) -> Tensor:
    """MaskCLIP's value path through one open_clip ``ResidualAttentionBlock``.

    ``v = x + ls_1(out_proj(W_v ln_1(x) + b_v))``; ``v + ls_2(mlp(ln_2(v)))``: the
    attention of every token is replaced by the identity (each token attends to
    itself only), so no token mixes with another.

    Args:
        block: the block (``nn.MultiheadAttention`` with a packed ``in_proj``).
        x: (B, L, D) tokens entering the block.
    Returns:
        (B, L, D) tokens.
    """
    attn = block.attn
    dim = x.shape[-1]
    w_v = attn.in_proj_weight[2 * dim:]
    b_v = attn.in_proj_bias[2 * dim:] if attn.in_proj_bias is not None else None
    v = F.linear(block.ln_1(x), w_v, b_v)
    v = attn.out_proj(v)
    x = x + block.ls_1(v)
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def maskclip_features(clip: OpenCLIP,
                      img: Tensor,
                      pos_interp: str = 'bicubic',
                      normalize: bool = True) -> Tensor:
    """(B, E, h, w) MaskCLIP patch features in CLIP's joint space.

    Args:
        clip: an :class:`OpenCLIP` (ViT).
        img: (B, 3, H, W) normalised images; the grid is (H // p, W // p).
        pos_interp: positional-embedding resize (see :func:`interpolated_pos_embed`).
        normalize: L2-normalise every feature (cosine with text embeddings).
    """
    visual = clip.clip.visual
    x = visual.conv1(img)
    grid = (x.shape[2], x.shape[3])
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], 1) + interpolated_pos_embed(clip, grid, pos_interp).to(x.dtype)
    x = visual.ln_pre(x)
    blocks = visual.transformer.resblocks
    for block in blocks[:-1]:
        x = block(x)
    x = value_path(blocks[-1], x)
    feats = visual.ln_post(x[:, 1:]) @ visual.proj  # (B, h*w, E), CLS dropped
    if normalize:
        feats = F.normalize(feats, dim=-1)
    return feats.transpose(1, 2).reshape(x.shape[0], -1, *grid)
