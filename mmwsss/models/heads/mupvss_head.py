"""MuP-VSS's head: learnable global (class) tokens, the Prototype Embedding Module (PEM) and
the visual spatial search that reads the CAMs out of the multi-label prototypes.

"Multi-Label Prototype Visual Spatial Search for WSSS" (Duan, Yang, Wang, CVPR'25).
NO OFFICIAL CODE EXISTS (reference methods-prototype.md §8): only the abstract was read. What
it says: a global embedding learns global (class) tokens; the PEM lets them interact with the
patch tokens to form multi-label prototypes; the prototypes search the patch tokens (a
query-based "visual spatial search"). Everything else here is our reading, and every choice
the abstract leaves open is an argument (listed in configs/mupvss/README.md):

    patch tokens  X = Conv1x1(dropout(f)) (B, E, h, w): the CNN feature map projected to E
    global tokens G (C, E), one learnable query per foreground class
    PEM           ``depth`` pre-norm decoder layers on the queries:
                  q <- q + SelfAttn(LN q)           (``self_attn``: classes see each other)
                  q <- q + CrossAttn(LN q, LN X)    (the queries search the patch tokens)
                  q <- q + FFN(LN q)
                  P = LN(q) (B, C, E): one prototype per class and image
    search map    S[b, c, i] = scale * cos(P[b, c], X[b, :, i]) (``search='cos'``, default)
                  or <P[b, c], X[b, :, i]> / sqrt(E) (``'dot'``: a CAM whose class weight is
                  the image's prototype; unbounded, it diverged in our CPU smoke run at the
                  PSA-family lr x10)
    logits        ``'gap'``: mean_i S[b, c, i] (the map the CAM readout uses is the one that
                  is classified, as a GAP CAM); ``'query'``: a per-class linear on the
                  prototype (Query2Label's group-wise linear), W_c . P_c + b_c

The head caches the parts of its last training forward (grad on) so that MuP-VSS's loss terms
use the same prototypes the classification loss saw (:meth:`pop_parts`).
"""
import math
from typing import Dict, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from mmwsss.registry import MODELS
from .cam_head import CAMHead

SEARCHES = ('dot', 'cos')
READOUTS = ('gap', 'query')


def search_maps(protos: Tensor, patches: Tensor, search: str = 'dot', scale: float = 1.0) -> Tensor:
    """The visual spatial search: every prototype against every patch token.

    Args:
        protos: (B, C, E) per-image class prototypes.
        patches: (B, E, h, w) patch tokens.
        search: ``'dot'``: ``<P_c, x_i> / sqrt(E)``; ``'cos'``: ``scale * cos(P_c, x_i)``.
        scale: the factor of ``'cos'`` (cosines alone bound GAP logits to [-1, 1]).
    Returns:
        (B, C, h, w) maps (raw, no ReLU).
    """
    if search == 'dot':
        # scaled as attention logits: the LayerNormed prototypes have norm ~ sqrt(E)
        return torch.einsum('bce,behw->bchw', protos, patches) / math.sqrt(protos.shape[-1])
    if search == 'cos':
        from ..prototypes.functional import cosine_maps
        return scale * cosine_maps(patches, protos)
    raise ValueError(f'search must be one of {SEARCHES}, got {search!r}')


class _PartsCache:
    """Holds the last training forward's parts; copies and pickles empty (a cached non-leaf
    tensor would make ``copy.deepcopy(model)`` fail)."""

    def __init__(self) -> None:
        self.parts: Optional[Dict[str, Tensor]] = None

    def __deepcopy__(self, memo) -> '_PartsCache':
        return _PartsCache()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.parts = None


class PEMLayer(nn.Module):
    """One pre-norm decoder layer of the PEM: self-attention among the class queries
    (optional), cross-attention from the queries to the patch tokens, FFN.

    Shapes: queries (B, C, E), patch tokens (B, N, E) -> queries (B, C, E).
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 ffn_ratio: float = 4.0,
                 self_attn: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True) if self_attn else None
        self.norm_sa = nn.LayerNorm(dim) if self_attn else None
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        hidden = int(dim * ffn_ratio)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
            nn.Dropout(dropout))

    def forward(self, q: Tensor, x: Tensor) -> Tensor:
        if self.self_attn is not None:
            h = self.norm_sa(q)
            q = q + self.self_attn(h, h, h, need_weights=False)[0]
        kv = self.norm_kv(x)
        q = q + self.cross_attn(self.norm_q(q), kv, kv, need_weights=False)[0]
        return q + self.ffn(self.norm_ffn(q))


@MODELS.register_module()
class PrototypeEmbeddingModule(nn.Module):
    """MuP-VSS's PEM: ``depth`` :class:`PEMLayer` s and a final LayerNorm.

    Args:
        dim: E.
        depth: number of layers (open choice, default 2).
        num_heads: attention heads (open choice, default 8).
        ffn_ratio: FFN width / E.
        self_attn: self-attention among the class queries.
        dropout: attention / FFN dropout (0: the prototypes are deterministic).

    Shapes: global tokens (B, C, E), patch tokens (B, N, E) -> prototypes (B, C, E).
    """

    def __init__(self,
                 dim: int,
                 depth: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: float = 4.0,
                 self_attn: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f'PEM depth must be >= 1, got {depth}')
        self.layers = nn.ModuleList(
            [PEMLayer(dim, num_heads, ffn_ratio, self_attn, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, queries: Tensor, patches: Tensor) -> Tensor:
        q = queries
        for layer in self.layers:
            q = layer(q, patches)
        return self.norm(q)


@MODELS.register_module()
class MuPVSSHead(CAMHead):
    """Global tokens + PEM + visual spatial search (see the module doc).

    Args:
        in_channels: channels of the backbone level ``in_index`` (ResNet-38 conv6: 4096).
        num_classes: C foreground classes (one global token each).
        embed_dim: E, the patch-token / prototype width (open choice, 256).
        depth, num_heads, ffn_ratio, self_attn, pem_dropout: the PEM
            (:class:`PrototypeEmbeddingModule`).
        search: ``'dot'`` or ``'cos'`` (:func:`search_maps`).
        cos_scale: the factor of ``'cos'`` maps.
        cls_readout: ``'gap'`` or ``'query'`` (module doc).
        dropout_ratio: Dropout2d on the backbone features before the projection (the
            PSA-family WR38 heads' ``dropout7``, 0.5).

    Shapes: features (B, in_channels, h, w) -> logits (B, C), cams (B, C, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 embed_dim: int = 256,
                 depth: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: float = 4.0,
                 self_attn: bool = True,
                 pem_dropout: float = 0.0,
                 search: str = 'cos',
                 cos_scale: float = 10.0,
                 cls_readout: str = 'gap',
                 in_index: int = -1,
                 dropout_ratio: float = 0.0,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            pool='gap',
            in_index=in_index,
            dropout_ratio=dropout_ratio,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            **kwargs)
        if search not in SEARCHES:
            raise ValueError(f'search must be one of {SEARCHES}, got {search!r}')
        if cls_readout not in READOUTS:
            raise ValueError(f'cls_readout must be one of {READOUTS}, got {cls_readout!r}')
        del self.conv_seg  # the class weights are the image's prototypes
        self.embed_dim = int(embed_dim)
        self.search = search
        self.cos_scale = float(cos_scale)
        self.cls_readout = cls_readout
        # patch tokens: a 1x1 projection of the CNN map (xavier, as the PSA-family new layers)
        self.patch_proj = nn.Conv2d(in_channels, self.embed_dim, 1, bias=False)
        nn.init.xavier_uniform_(self.patch_proj.weight)
        # the global embedding: one learnable token per class (ViT-style trunc-normal 0.02)
        self.global_tokens = nn.Parameter(torch.zeros(num_classes, self.embed_dim))
        nn.init.trunc_normal_(self.global_tokens, std=0.02)
        self.pem = PrototypeEmbeddingModule(self.embed_dim, depth, num_heads, ffn_ratio, self_attn,
                                            pem_dropout)
        if cls_readout == 'query':
            bound = 1.0 / math.sqrt(self.embed_dim)
            self.query_weight = nn.Parameter(
                torch.empty(num_classes, self.embed_dim).uniform_(-bound, bound))
            self.query_bias = nn.Parameter(torch.zeros(num_classes))
        self._cache = _PartsCache()

    def forward_parts(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Dict[str, Tensor]:
        """``patches`` (B, E, h, w), ``protos`` (B, C, E), ``cams`` (B, C, h, w) raw search
        maps, ``logits`` (B, C)."""
        feats = self._features(inputs)
        patches = self.patch_proj(feats)
        b = patches.shape[0]
        tokens = patches.flatten(2).transpose(1, 2)  # (B, N, E)
        protos = self.pem(self.global_tokens[None].expand(b, -1, -1), tokens)
        cams = search_maps(protos, patches, self.search, self.cos_scale)
        if self.cls_readout == 'gap':
            logits = cams.mean((2, 3))
        else:
            logits = (protos * self.query_weight[None]).sum(-1) + self.query_bias[None]
        return dict(patches=patches, protos=protos, cams=cams, logits=logits)

    def forward(self, inputs):
        """``(logits (B, C), raw cams (B, C, h, w))``."""
        parts = self.forward_parts(inputs)
        if self.training and torch.is_grad_enabled():
            self._cache.parts = parts
        return parts['logits'], parts['cams']

    def pop_parts(self, cams: Tensor) -> Optional[Dict[str, Tensor]]:
        """The parts of the training forward that produced ``cams`` (identity checked), or
        None (then the caller reruns :meth:`forward_parts`). The cache is cleared, so no
        graph outlives the step and the module stays deep-copyable."""
        parts, self._cache.parts = self._cache.parts, None
        if parts is not None and parts['cams'] is cams:
            return parts
        return None
