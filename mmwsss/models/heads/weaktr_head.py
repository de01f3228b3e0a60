"""WeakTr's CAM head (Zhu et al., hustvl/WeakTr ``models.py`` + ``AAF.py``), SemPLeS's CAM model.

WeakTr is a DeiT-S with one class token per class (MCTformer-style). Its CAM is built from
three parts of one forward (``return_att=True, attention_type='fused'``):

1. the coarse CAM ``relu(conv3x3(patch tokens))`` (the last block's patch tokens, before the
   final norm; 384 -> C, padding 1);
2. the L x H attention maps (12 blocks x 6 heads = 72 "channels"), weighted per channel by
   the Adaptive Attention Fusion (AAF) module and averaged over the 72 channels: the
   class-to-patch rows give the cross attention (B, C, h, w), the patch-to-patch block the
   patch affinity (B, hw, hw);
3. ``cams = cross_attn * coarse_cam`` ('fused') and the fine CAM
   ``fine_cam = patch_attn @ cams`` (every patch a convex-ish mix of the others).

The AAF weight of a channel comes from that block's attention OUTPUT (``proj(attn @ v)``,
:class:`~mmwsss.models.backbones.AttnOutTokenViT`), split into H "head" slices of D/H
features (the official ``view(..., -1, H)``: feature ``j * H + h`` belongs to slice h, an
interleaved split, not the heads' own layout), pooled over the tokens (max on VOC, mean on
COCO), a per-channel FFN D/H -> D/H/8 -> 1 (no activation between), then the channel FFN
C -> C/r -> C with ReLU and a sigmoid (squeeze-and-excitation).

Gradients (SemPLeS's ``models123.py``): the patch tokens are detached before the conv and
the attention maps and outputs are detached before the AAF, so only the conv and the AAF
train; ``detach_tokens=False`` lets the gradient reach the ViT through the coarse CAM
(WeakTr's own ``models.py`` instead detaches the coarse CAM after the conv).

Every step is a plain tensor function below (shapes documented).
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..utils.freeze import freeze

# ---------------------------------------------------------------- formulas


def stack_head_maps(attns: Dict[int, Tensor]) -> Tensor:
    """(B, H * L, N, N) attention maps of L blocks, channel ``h * L + l`` = head h of the
    l-th block (the official ``stack -> permute(1, 2, 0, 3, 4) -> view``).

    Args:
        attns: ``{block: (B, H, N, N)}`` (blocks in increasing order are stacked).
    """
    maps = torch.stack([attns[k] for k in sorted(attns)], 0)  # (L, B, H, N, N)
    L, B, H, N, M = maps.shape
    return maps.permute(1, 2, 0, 3, 4).reshape(B, H * L, N, M)


def stack_head_features(outs: Dict[int, Tensor], num_heads: int) -> Tensor:
    """(B, H * L, N, D / H) attention outputs of L blocks, split as the official
    ``view(L, B, N, -1, H).permute(1, 4, 0, 2, 3)``: slice h holds features
    ``h, H + h, 2H + h, ...`` (interleaved), channel ``h * L + l``.

    Args:
        outs: ``{block: (B, N, D)}`` attention-module outputs.
        num_heads: H.
    """
    feats = torch.stack([outs[k] for k in sorted(outs)], 0)  # (L, B, N, D)
    L, B, N, D = feats.shape
    if D % num_heads:
        raise ValueError(f'feature width {D} is not a multiple of num_heads={num_heads}')
    feats = feats.reshape(L, B, N, D // num_heads, num_heads).permute(1, 4, 0, 2, 3)
    return feats.reshape(B, num_heads * L, N, D // num_heads)


def fuse_attention(maps: Tensor, weights: Tensor) -> Tensor:
    """(B, N, N) = mean over channels c of ``weights[b, c] * maps[b, c]``.

    Args:
        maps: (B, C, N, N) attention maps; weights: (B, C) AAF channel weights.
    """
    return (maps * weights[:, :, None, None]).mean(1)


def split_fused_attention(fused: Tensor, num_classes: int,
                          grid: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Class-to-patch and patch-to-patch parts of the fused (B, K + hw, K + hw) attention.

    Args:
        fused: (B, N, N), N = K + h*w with the K = ``num_classes`` class tokens first.
        grid: (h, w).
    Returns:
        cross_attn (B, K, h, w) (rows: class tokens, columns: patches) and
        patch_attn (B, hw, hw).
    """
    k = num_classes
    b = fused.shape[0]
    cross = fused[:, :k, k:].reshape(b, k, grid[0], grid[1])
    return cross, fused[:, k:, k:]


def weaktr_fine_cam(patch_attn: Tensor, cams: Tensor) -> Tensor:
    """WeakTr's patch-affinity refinement: ``fine[b, c, i] = sum_j A[b, i, j] cams[b, c, j]``.

    Args:
        patch_attn: (B, hw, hw) patch-to-patch attention A (rows: target patches).
        cams: (B, C, h, w).
    Returns:
        (B, C, h, w).
    """
    b, c, h, w = cams.shape
    return torch.einsum('bij,bcj->bci', patch_attn, cams.reshape(b, c, h * w)).reshape(b, c, h, w)


# ---------------------------------------------------------------- modules


class AdaptiveAttentionFusion(nn.Module):
    """WeakTr's AAF (the attention-feature version of hustvl/WeakTr ``AAF.py``): one
    weight in (0, 1) per attention channel (block x head).

    Sub-module names follow the official ones so that a converted WeakTr checkpoint
    loads unchanged (``attn_head_ffn.{0,2}``, ``attn_feat_ffn.{0,1}``).

    Args:
        channels: L * H (72 for DeiT-S).
        reduction: of the channel FFN (``int(channels / reduction)`` hidden units; VOC 8,
            COCO 4).
        feat_channels: D / H (64 for DeiT-S).
        feat_reduction: of the per-channel feature FFN (8).
        pool: token pooling of the features, ``'max'`` (VOC) or ``'avg'`` (COCO).
    """

    def __init__(self,
                 channels: int = 72,
                 reduction: float = 8,
                 feat_channels: int = 64,
                 feat_reduction: float = 8,
                 pool: str = 'max') -> None:
        super().__init__()
        if pool not in ('max', 'avg'):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        self.pool = pool
        hidden = int(channels / reduction)
        feat_hidden = int(feat_channels / feat_reduction)
        self.attn_head_ffn = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), nn.ReLU(),
            nn.Linear(hidden, channels, bias=False), nn.Sigmoid())
        self.attn_feat_ffn = nn.Sequential(
            nn.Linear(feat_channels, feat_hidden), nn.Linear(feat_hidden, 1))

    def forward(self, feats: Tensor) -> Tensor:
        """(B, C, N, m) stacked attention features -> (B, C) channel weights."""
        pooled = feats.amax(2) if self.pool == 'max' else feats.mean(2)  # (B, C, m)
        return self.attn_head_ffn(self.attn_feat_ffn(pooled).squeeze(-1))


@MODELS.register_module()
class WeakTrHead(BaseModule):
    """WeakTr's fine CAM from an :class:`~mmwsss.models.backbones.AttnOutTokenViT` output.

    The backbone must have ``num_classes`` class tokens (``class_tokens=dict(num=C)``),
    return the pre-norm last-block patch map (``out_norm=False``), the attention maps of
    all blocks (``attn_blocks``) and their attention outputs (``attn_out_blocks``).

    Args:
        num_classes: C (= the backbone's class tokens).
        in_channels: token width D (384).
        num_heads: H of the ViT (6).
        num_blocks: L, the blocks whose attention is fused (12).
        reduction / feat_reduction / pool: :class:`AdaptiveAttentionFusion`.
        attention_type: ``'fused'`` (cross_attn * coarse, WeakTr/SemPLeS), ``'patchcam'``
            (coarse only) or ``'cross'`` (cross attention only), before the refinement.
        in_index: the feature map of the backbone output the conv reads.
        detach_tokens: detach the patch tokens before the conv (SemPLeS); the attention
            inputs of the AAF are always detached (both official versions).
        frozen: no gradients to the conv and the AAF (SemPLeS stage b).

    Forward: ``(logits (B, C), fine_cam (B, C, h, w))``; logits = the spatial mean of the
    fine CAM (WeakTr's ``fine_cam_pred``; SemPLeS trains no classification loss).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 384,
                 num_heads: int = 6,
                 num_blocks: int = 12,
                 reduction: float = 8,
                 feat_reduction: float = 8,
                 pool: str = 'max',
                 attention_type: str = 'fused',
                 in_index: int = -1,
                 detach_tokens: bool = True,
                 frozen: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if attention_type not in ('fused', 'patchcam', 'cross'):
            raise ValueError("attention_type must be 'fused', 'patchcam' or 'cross', got "
                             f'{attention_type!r}')
        if in_channels % num_heads:
            raise ValueError(f'in_channels={in_channels} is not a multiple of '
                             f'num_heads={num_heads}')
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.attention_type = attention_type
        self.in_index = in_index
        self.detach_tokens = detach_tokens
        self.head = nn.Conv2d(in_channels, num_classes, kernel_size=3, stride=1, padding=1)
        self.adaptive_attention_fusion = AdaptiveAttentionFusion(
            channels=num_blocks * num_heads,
            reduction=reduction,
            feat_channels=in_channels // num_heads,
            feat_reduction=feat_reduction,
            pool=pool)
        self.frozen = frozen
        if frozen:
            freeze(self)

    def train(self, mode: bool = True) -> 'WeakTrHead':
        super().train(mode and not self.frozen)
        return self

    def cam_parts(self, feats) -> Dict[str, Tensor]:
        """Every intermediate: ``coarse`` (B, C, h, w), ``weights`` (B, L*H), ``cross``
        (B, C, h, w), ``patch_attn`` (B, hw, hw), ``cams`` (B, C, h, w) and ``fine``."""
        attns = getattr(feats, 'attns', None) or {}
        outs = getattr(feats, 'attn_outs', None) or {}
        if len(attns) != self.num_blocks or len(outs) != self.num_blocks:
            raise KeyError(f'WeakTrHead needs the attention maps and outputs of '
                           f'{self.num_blocks} blocks (AttnOutTokenViT with attn_blocks and '
                           f'attn_out_blocks), got maps of {sorted(attns)} and outputs of '
                           f'{sorted(outs)}')
        x = feats[self.in_index]
        if self.detach_tokens:
            x = x.detach()
        coarse = F.relu(self.head(x))
        maps = stack_head_maps({k: v.detach() for k, v in attns.items()})
        hfeats = stack_head_features({k: v.detach() for k, v in outs.items()}, self.num_heads)
        weights = self.adaptive_attention_fusion(hfeats)
        fused = fuse_attention(maps, weights)
        n_prefix = fused.shape[-1] - coarse.shape[-2] * coarse.shape[-1]
        if n_prefix != self.num_classes:
            raise ValueError(f'WeakTrHead: the backbone has {n_prefix} prefix tokens, the head '
                             f'{self.num_classes} classes (set class_tokens=dict(num='
                             f'{self.num_classes}))')
        cross, patch_attn = split_fused_attention(fused, self.num_classes, tuple(coarse.shape[-2:]))
        if self.attention_type == 'fused':
            cams = cross * coarse
        elif self.attention_type == 'patchcam':
            cams = coarse
        else:
            cams = cross
        fine = weaktr_fine_cam(patch_attn, cams)
        return dict(
            coarse=coarse,
            weights=weights,
            cross=cross,
            patch_attn=patch_attn,
            cams=cams,
            fine=fine)

    def forward(self, feats) -> Tuple[Tensor, Tensor]:
        fine = self.cam_parts(feats)['fine']
        return fine.mean((2, 3)), fine

    def cam_fn_for(self, branch):
        """Test-time CAM: the input cropped to whole patches first (the official patch
        embedding floors the grid; a TokenViT refuses partial patches), so every
        multi-scale size works."""
        name = next(n for n, h in branch.cam_heads.items() if h is self)
        ph, pw = branch.backbone.patch_size

        def fn(x: Tensor) -> Tensor:
            h, w = x.shape[-2:]
            x = x[..., :h - h % ph, :w - w % pw]
            return branch.cam_head_forward(name, branch.extract_feat(x))[1]

        return fn
