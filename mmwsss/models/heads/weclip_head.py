"""WeCLIP's decoder (Zhang et al., "Frozen CLIP: a strong backbone for WSSS", CVPR'24).

Official: ``WeCLIP_model/segformer_head.py: SegFormerHead`` (index=11) followed by
``Decoder/TransDecoder.py: DecoderTransformer(width=256, layers=3, heads=8)``:

1. per CLIP block l = 0..10 an MLP on its patch tokens, ``Linear(768, 256) -> ReLU ->
   Linear(256, 256)``; the 11 maps are concatenated (11 * 256 channels), fused by a 1x1 conv
   to 256 and passed through ``Dropout2d(0.1)``: the decoder features F (B, 256, h, w);
2. the decoder affinity ``A = sigmoid(F^T F)`` (B, hw, hw), trained by the affinity loss and
   used by the RFM to refine the CLIP-ES CAMs (:func:`decoder_affinity`);
3. a small CLIP-style pre-LN transformer on F (3 blocks, 8 heads, QuickGELU MLP x4, LayerNorm
   computed in float32), then a 1x1 conv to the classes (background included): the
   segmentation logits at the token grid.

The affinity of the last training forward is kept in ``head.last_affinity`` for the label
source (RFM) and the affinity term of the same step; it is None in eval mode.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmwsss.registry import MODELS


def decoder_affinity(feats: Tensor) -> Tensor:
    """WeCLIP's learned affinity ``sigmoid(F^T F)``.

    Args:
        feats: (B, C, h, w) decoder features F (after the fusion conv and dropout).
    Returns:
        (B, h*w, h*w) affinity in (0, 1); row i is token i (row-major over the grid).
    """
    flat = feats.flatten(2)  # (B, C, N)
    return torch.sigmoid(flat.transpose(1, 2) @ flat)


class _TokenMLP(nn.Module):
    """SegFormer's two-layer "linear embedding" of one block's tokens."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        self.proj_2 = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, D, h, w) -> (B, dim, h, w)."""
        b, _, h, w = x.shape
        y = self.proj_2(F.relu(self.proj(x.flatten(2).transpose(1, 2))))
        return y.transpose(1, 2).reshape(b, -1, h, w)


class _FP32LayerNorm(nn.LayerNorm):
    """CLIP's LayerNorm: computed in float32, cast back (fp16 / AMP safe)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.float()).to(x.dtype)


class _QuickGELU(nn.Module):

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class _ResidualAttentionBlock(nn.Module):
    """CLIP's pre-LN block: x + attn(ln_1(x)); x + mlp(ln_2(x))."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = _FP32LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = _FP32LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', nn.Linear(width, width * 4)), ('gelu', _QuickGELU()),
                         ('c_proj', nn.Linear(width * 4, width))]))

    def forward(self, x: Tensor) -> Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class WeCLIPDecoderTransformer(nn.Module):
    """The decoder transformer on (B, C, h, w) maps (tokens = grid cells, no positions)."""

    def __init__(self, width: int = 256, layers: int = 3, heads: int = 8) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            [_ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, N, C)
        for block in self.resblocks:
            t = block(t)
        return t.transpose(1, 2).reshape(b, c, h, w)


@MODELS.register_module()
class WeCLIPHead(BaseDecodeHead):
    """WeCLIP decoder: per-block MLPs, fusion conv, affinity, transformer, classifier.

    Reads the ``num_layers`` token maps of a :class:`FrozenCLIPBackbone` (its output tuple,
    block 0 first). ``conv_seg`` (BaseDecodeHead's classifier) is WeCLIP's ``linear_pred``.

    Args:
        in_channels: CLIP width (768 for ViT-B/16).
        channels: decoder width (WeCLIP's ``embedding_dim`` 256).
        num_classes: classes including background (21 VOC, 81 COCO).
        num_layers: token maps decoded (11).
        trans_layers / trans_heads: the decoder transformer (3 blocks, 8 heads).
        fuse_dropout: Dropout2d after the fusion conv (0.1).
        init_cfg: None keeps PyTorch's default initialisation everywhere, as the official
            code (mmseg's default would re-draw ``conv_seg`` with std 0.01).
    """

    def __init__(self,
                 in_channels: int = 768,
                 channels: int = 256,
                 num_classes: int = 21,
                 num_layers: int = 11,
                 trans_layers: int = 3,
                 trans_heads: int = 8,
                 fuse_dropout: float = 0.1,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        kwargs.setdefault('dropout_ratio', 0.0)
        # scope-prefixed so that it builds under the mmwsss default scope too
        kwargs.setdefault('loss_decode', dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0))
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=num_classes,
            init_cfg=init_cfg,
            **kwargs)
        self.num_layers = int(num_layers)
        self.linears = nn.ModuleList([_TokenMLP(in_channels, channels) for _ in range(num_layers)])
        self.linear_fuse = nn.Conv2d(channels * num_layers, channels, kernel_size=1)
        self.fuse_dropout = nn.Dropout2d(fuse_dropout)
        self.transformer = WeCLIPDecoderTransformer(channels, trans_layers, trans_heads)
        self.last_affinity: Optional[Tensor] = None

    def fuse(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, channels, h, w) decoder features F from the ``num_layers`` token maps."""
        if len(feats) < self.num_layers:
            raise ValueError(f'WeCLIPHead decodes {self.num_layers} token maps, the backbone '
                             f'gave {len(feats)}')
        maps: List[Tensor] = [mlp(f.float()) for mlp, f in zip(self.linears, feats)]
        return self.fuse_dropout(self.linear_fuse(torch.cat(maps, 1)))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Segmentation logits (B, num_classes, h, w) at the token grid; in training mode the
        decoder affinity of the same features is kept in ``last_affinity``."""
        fts = self.fuse(list(inputs)[:self.num_layers])
        self.last_affinity = decoder_affinity(fts) if self.training else None
        return self.conv_seg(self.transformer(fts))


@MODELS.register_module()
class WeCLIPPredictor:
    """WeCLIP's test rule (``test_msc_flip_voc.py: validate``).

    Per scale s (official ``[1, 0.75]``): the input resized by ``scale_factor=s`` (bilinear,
    align_corners=False) and its flip go through the network in one batch; the logits are
    resized to the scale-1 logit grid, the flipped one is flipped back, and the two are
    AVERAGED; the scales are averaged. The result stays at the scale-1 token grid: mmseg's
    ``postprocess_result`` resizes it to ``ori_shape`` in one bilinear step, as the official
    ``F.interpolate(msc_segs, size=labels.shape[1:])``; a CRF (``test_cfg.crf``) then sees
    its softmax (the official CRF, commented out in the script, uses the same logits).

    Args:
        scales: test scales.
        flip: add the flipped input.
        branch: the branch to run (None: the model's ``predict_branch``).
    """

    def __init__(self,
                 scales: Sequence[float] = (1.0, 0.75),
                 flip: bool = True,
                 branch: Optional[str] = None) -> None:
        self.scales = tuple(float(s) for s in scales)
        self.flip = flip
        self.branch = branch

    def __call__(self, model, inputs: Tensor) -> Tensor:
        branch = model.branches[self.branch or model.predict_branch]
        b = inputs.shape[0]
        size = None
        per_scale = []
        for s in self.scales:
            x = inputs if s == 1.0 else F.interpolate(
                inputs, scale_factor=s, mode='bilinear', align_corners=False)
            if self.flip:
                x = torch.cat([x, x.flip(-1)], 0)
            logits = branch.seg_forward(branch.extract_feat(x))
            if size is None:
                # the grid of the first scale (1.0 in the official list)
                size = logits.shape[-2:]
            if logits.shape[-2:] != size:
                logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
            if self.flip:
                logits = (logits[:b] + logits[b:].flip(-1)) / 2
            per_scale.append(logits)
        return torch.stack(per_scale, 0).mean(0)
