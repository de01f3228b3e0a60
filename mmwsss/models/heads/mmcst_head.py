"""MMCST / MCTformer heads: class-token scores, class-to-patch attention, PatchCAM, fusion.

The formulas, as plain tensor functions (MCTformer, xulianuwa/MCTformer ``models.py`` and
``engine.py: generate_attention_maps_ms``, read there; MMCST adds the text tokens):

* class-token score: ``logit_c = mean_d(t_c)``, the output class token (before the final
  norm) averaged over its D channels (``x_cls.mean(-1)``);
* class-to-patch attention: per block, the attention averaged over heads; summed over the
  last ``L`` blocks (``--layer-index``: 12 in training, 3 for the maps); rows = the class
  tokens, columns = the patch tokens, reshaped to the grid;
* patch affinity: the head-averaged patch-to-patch attention summed over every block;
  refinement ``m'_i = sum_j A_ij m_j`` (``torch.matmul(patch_attn, cam)``);
* MCTformer-V2 PatchCAM: a 3x3 conv (with bias) on the output patch tokens, GAP -> logits;
  the fused map is ``attention * relu(PatchCAM)`` (``attention_type='fused'``).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from .cam_head import CAMHead

CAM_TYPES = ('fused', 'attention', 'patchcam')
TOKEN_MAPS = ('sum', 'mean', 'visual', 'text')


def class_token_scores(tokens: Tensor) -> Tensor:
    """(B, C, D) output class tokens -> (B, C) logits: the mean over the D channels."""
    return tokens.mean(-1)


def last_blocks(attns: Dict[int, Tensor], num: Optional[int]) -> Sequence[Tensor]:
    """The attention maps (B, heads, N, N) of the last ``num`` blocks present in ``attns``
    (all of them for None), in block order."""
    keys = sorted(attns)
    if not keys:
        raise KeyError('no attention maps: build the backbone with attn_blocks=(...)')
    if num is not None:
        if num > len(keys):
            raise ValueError(f'{num} blocks asked, the backbone returned attention of '
                             f'{len(keys)} blocks ({keys})')
        keys = keys[len(keys) - num:]
    return [attns[k] for k in keys]


def class_to_patch_attention(attns: Sequence[Tensor], rows: Tuple[int, int], num_prefix: int,
                             grid: Tuple[int, int]) -> Tensor:
    """MCTformer's class-token attention maps.

    Args:
        attns: per block (B, heads, N, N), N = num_prefix + h*w (rows attend to columns).
        rows: (start, stop) of the class tokens whose rows are read.
        num_prefix: K, the tokens in front of the patch tokens.
        grid: (h, w).
    Returns:
        (B, stop - start, h, w): sum over the blocks of the head-mean attention
        ``A[:, start:stop, K:]``.
    """
    acc = sum(a.mean(1) for a in attns)  # (B, N, N)
    maps = acc[:, rows[0]:rows[1], num_prefix:]
    return maps.reshape(maps.shape[0], maps.shape[1], grid[0], grid[1])


def patch_affinity(attns: Sequence[Tensor], num_prefix: int) -> Tensor:
    """(B, h*w, h*w) patch-to-patch affinity: head-mean attention summed over the blocks."""
    return sum(a.mean(1)[:, num_prefix:, num_prefix:] for a in attns)


def affinity_refine(maps: Tensor, affinity: Tensor) -> Tensor:
    """(B, C, h, w) maps, (B, h*w, h*w) affinity -> (B, C, h, w), ``m'_i = sum_j A_ij m_j``."""
    B, C, h, w = maps.shape
    return torch.einsum('bij,bcj->bci', affinity, maps.reshape(B, C, h * w)).reshape(B, C, h, w)


def fuse_attention_patchcam(attention: Tensor, patch_cams: Tensor) -> Tensor:
    """MCTformer-V2's fused map: ``attention * relu(PatchCAM)``, both (B, C, h, w)."""
    return attention * F.relu(patch_cams)


def _token_rows(cls_tokens: Tensor, num_prefix: int, offset: int, num: int) -> Tuple[int, int]:
    if offset + num > cls_tokens.shape[1]:
        raise ValueError(f'class tokens {offset}..{offset + num - 1} asked, the backbone '
                         f'returned {cls_tokens.shape[1]} prefix tokens')
    # cls_tokens are the last cls_tokens.shape[1] rows of the K prefix tokens
    start = num_prefix - cls_tokens.shape[1] + offset
    return start, start + num


def _prefix_of(feats) -> int:
    attns = getattr(feats, 'attns', None) or {}
    any_attn = next(iter(attns.values()), None)
    grid = feats.grid
    if any_attn is None or grid is None:
        raise KeyError('MMCST heads need a BackboneOutput with attns and grid')
    return any_attn.shape[-1] - grid[0] * grid[1]


@MODELS.register_module()
class MMCSTTokenHead(CAMHead):
    """Class tokens ``offset .. offset + C - 1`` as a CAM head (no parameters).

    ``logits`` = :func:`class_token_scores` of those tokens (MCTformer's class-token
    classification; train it with ``ClsTerm``); ``cams`` = their class-to-patch attention
    (:func:`class_to_patch_attention` over the last ``attn_layers`` blocks), optionally
    refined by the patch affinity of every returned block.

    Input: a :class:`BackboneOutput` with ``cls_tokens`` (B, K, D), ``attns``, ``grid``.
    Output: ``(logits (B, C), cams (B, C, h, w))``.
    """

    def __init__(self,
                 num_classes: int,
                 offset: int = 0,
                 attn_layers: Optional[int] = 3,
                 refine: bool = False,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 **kwargs) -> None:
        super().__init__(
            in_channels=1,
            num_classes=num_classes,
            loss_decode=loss_decode,
            init_cfg=None,
            **kwargs)
        del self.conv_seg
        self.offset = int(offset)
        self.attn_layers = attn_layers
        self.refine = bool(refine)

    def forward(self, feats) -> Tuple[Tensor, Tensor]:
        cls = feats.cls_tokens
        if cls is None:
            raise KeyError('MMCSTTokenHead needs cls_tokens (TokenViT(with_cls_token=True))')
        K = _prefix_of(feats)
        rows = _token_rows(cls, K, self.offset, self.num_classes)
        logits = class_token_scores(cls[:, self.offset:self.offset + self.num_classes])
        cams = class_to_patch_attention(
            last_blocks(feats.attns, self.attn_layers), rows, K, feats.grid)
        if self.refine:
            cams = affinity_refine(cams, patch_affinity(last_blocks(feats.attns, None), K))
        return logits, cams


@MODELS.register_module()
class MMCSTHead(CAMHead):
    """MCTformer-V2's PatchCAM head plus MMCST's localisation map.

    ``logits`` = GAP of the PatchCAM (a 3x3 conv with bias on the output patch tokens,
    PyTorch's default init as in MCTformer, whose ``_init_weights`` touches only Linear and
    LayerNorm); train it with ``ClsTerm``. ``cams`` = the localisation map (``cam_type``):

    * ``'fused'`` (MCTformer-V2 default): class-token attention x relu(PatchCAM);
    * ``'attention'``: the class-token attention only (MCTformer-V1);
    * ``'patchcam'``: relu(PatchCAM);

    where the class-token attention combines the modalities by ``token_maps``
    (``'sum'`` of the visual and the text maps, ``'mean'``, ``'visual'``, ``'text'``), over
    the last ``attn_layers`` blocks (MCTformer's map generation: 3), and ``refine`` applies
    the patch affinity of every returned block (``--patch-attn-refine``).

    Args:
        in_channels: D.
        num_classes: C.
        num_visual: visual class tokens (C; the first C tokens).
        text_offset: index of the first text token (C with ``token_mode='both'``), None
            without a separate text set (``'sum'`` / ``'visual'``).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 cam_type: str = 'fused',
                 token_maps: str = 'sum',
                 text_offset: Optional[int] = None,
                 attn_layers: Optional[int] = 3,
                 refine: bool = True,
                 in_index: int = -1,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            pool='gap',
            in_index=in_index,
            loss_decode=loss_decode,
            init_cfg=None,
            **kwargs)
        if cam_type not in CAM_TYPES:
            raise ValueError(f'MMCSTHead: cam_type must be one of {CAM_TYPES}, got {cam_type!r}')
        if token_maps not in TOKEN_MAPS:
            raise ValueError(f'MMCSTHead: token_maps must be one of {TOKEN_MAPS}, '
                             f'got {token_maps!r}')
        if token_maps in ('sum', 'mean', 'text') and text_offset is None:
            token_maps = 'visual'  # one token set only ('sum' / 'visual' token modes)
        self.cam_type, self.token_maps = cam_type, token_maps
        self.text_offset = text_offset
        self.attn_layers = attn_layers
        self.refine = bool(refine)
        # MCTformer-V2: nn.Conv2d(embed_dim, num_classes, 3, 1, 1), default init
        self.conv_seg = nn.Conv2d(in_channels, num_classes, kernel_size=3, padding=1)

    def attention_maps(self, feats) -> Tensor:
        """(B, C, h, w) class-token attention, modalities combined by ``token_maps``."""
        K = _prefix_of(feats)
        C = self.num_classes
        blocks = last_blocks(feats.attns, self.attn_layers)
        maps = {}
        if self.token_maps != 'text':
            maps['visual'] = class_to_patch_attention(blocks,
                                                      _token_rows(feats.cls_tokens, K, 0,
                                                                  C), K, feats.grid)
        if self.token_maps != 'visual':
            maps['text'] = class_to_patch_attention(
                blocks, _token_rows(feats.cls_tokens, K, self.text_offset, C), K, feats.grid)
        out = sum(maps.values())
        return out / len(maps) if self.token_maps == 'mean' else out

    def forward(self, feats) -> Tuple[Tensor, Tensor]:
        patches = self._features(feats)  # (B, D, h, w)
        patch_cams = self.conv_seg(patches)
        logits = self.pool(patches, patch_cams, self.conv_seg)
        if self.cam_type == 'patchcam':
            cams = F.relu(patch_cams)
        else:
            cams = self.attention_maps(feats)
            if self.cam_type == 'fused':
                # MCTformer fuses with a detached copy of the PatchCAM
                cams = fuse_attention_patchcam(cams, patch_cams.detach())
        if self.refine:
            K = _prefix_of(feats)
            cams = affinity_refine(cams, patch_affinity(last_blocks(feats.attns, None), K))
        return logits, cams
