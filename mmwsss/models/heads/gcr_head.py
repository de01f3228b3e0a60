"""MoRe's graph category representation (GCR): class tokens refined by their top-k graph
neighbours among the class and (detached) patch tokens.

Reference: zwyang6/MoRe ``model/GCA.py: graphic_cls_aggregation`` (the ``bi-interaction``
aggregation the model builds), called in ``model/model_mal.py`` as
``graph_layer(mctokens, _x)`` with the 20 class tokens and the final patch tokens.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS

ATTENTIONS = ('dot', 'official_einsum')


def gated_knowledge_weights(neigh: Tensor, gate: Tensor, attention: str = 'dot') -> Tensor:
    """Attention logits of the top-k neighbours, (B, C, k, D) x (B, C, k, D) -> (B, C, k).

    ``'dot'``: ``sum_d neigh_d * gate_d`` (the KGAT-style gated attention the module
    describes). ``'official_einsum'``: the official ``einsum('ijkl,ijkm->ijk')``, which
    sums the two factors over their last axes SEPARATELY, i.e.
    ``(sum_d neigh_d) * (sum_d gate_d)``.
    """
    if attention == 'dot':
        return (neigh * gate).sum(-1)
    if attention == 'official_einsum':
        return neigh.sum(-1) * gate.sum(-1)
    raise ValueError(f'attention must be one of {ATTENTIONS}, got {attention!r}')


@MODELS.register_module()
class GCRHead(BaseModule):
    """Graph class aggregation with top-k gated attention (MoRe's GCR, 768-d on ViT-B).

    For class tokens T (B, C, D) and patch tokens P (B, N, D), with X = [T; P.detach()]:

    1. ``e_h = W_h T``, ``e_t = W_t X``; logits ``e_h e_t^T / sqrt(D)`` (B, C, C + N);
    2. the top ``k = int(tok_ratio * C)`` neighbours of every class token (MoRe: 10 of
       20), ``p = softmax`` of their logits, neighbour embeddings ``Nb`` (B, C, k, D);
    3. gate ``tanh(e_h + p Nb + (1 - p) e_h)``; attention ``softmax_k`` of
       :func:`gated_knowledge_weights`; ``e_N = sum_k att_k Nb_k``;
    4. bi-interaction: ``LN(LeakyReLU(L1(0.1 (e_h + e_N) + T)) +
       LeakyReLU(L2(0.1 e_h * e_N + T)))``.

    Args:
        in_dim: token width D (ViT-B 768, ViT-S 384); all layers are D -> D.
        tok_ratio: k = int(tok_ratio * C).
        attention: ``'dot'`` (default) or ``'official_einsum'``, see
            :func:`gated_knowledge_weights`.
        dropout: dropout before the LayerNorm (MoRe 0.0; its later revision computes
            it but normalises the un-dropped embedding).

    The official module also builds ``_fc1`` and ``gate_U/V/W`` layers that its forward
    never uses; they are left out (no output or gradient depends on them).
    """

    def __init__(self,
                 in_dim: int = 768,
                 tok_ratio: float = 0.5,
                 attention: str = 'dot',
                 dropout: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if attention not in ATTENTIONS:
            raise ValueError(f'attention must be one of {ATTENTIONS}, got {attention!r}')
        self.tok_ratio = float(tok_ratio)
        self.attention = attention
        self.head_proj = nn.Linear(in_dim, in_dim)
        self.tail_proj = nn.Linear(in_dim, in_dim)
        self.scale = in_dim**-0.5
        self.linear1 = nn.Linear(in_dim, in_dim)
        self.linear2 = nn.Linear(in_dim, in_dim)
        self.act = nn.LeakyReLU()
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(in_dim)

    def forward(self, cls_tokens: Tensor, patch_tokens: Tensor) -> Tensor:
        """(B, C, D) class tokens, (B, N, D) or (B, D, h, w) patch tokens -> (B, C, D)."""
        if patch_tokens.dim() == 4:
            patch_tokens = patch_tokens.flatten(2).transpose(1, 2)
        C = cls_tokens.shape[1]
        k = int(self.tok_ratio * C)
        if k < 1:
            raise ValueError(f'GCRHead: int({self.tok_ratio} * {C} class tokens) = 0 neighbours')
        x = torch.cat([cls_tokens, patch_tokens.detach()], 1)
        e_h = self.head_proj(cls_tokens)  # (B, C, D)
        e_t = self.tail_proj(x)  # (B, C + N, D)
        logits = (e_h * self.scale) @ e_t.transpose(1, 2)  # (B, C, C + N)
        w_top, i_top = logits.topk(k, dim=-1)  # (B, C, k)
        neigh = torch.gather(e_t[:, None].expand(-1, C, -1, -1), 2,
                             i_top[..., None].expand(-1, -1, -1, e_t.shape[-1]))
        p = F.softmax(w_top, dim=-1)[..., None]  # (B, C, k, 1)
        e_h4 = e_h[:, :, None]  # (B, C, 1, D)
        gate = torch.tanh(e_h4 + p * neigh + (1 - p) * e_h4)
        att = F.softmax(gated_knowledge_weights(neigh, gate, self.attention), dim=-1)
        e_n = (att[..., None] * neigh).sum(2)  # (B, C, D)
        emb = self.act(self.linear1((e_h + e_n) * 0.1 + cls_tokens)) + \
            self.act(self.linear2(e_h * e_n * 0.1 + cls_tokens))
        return self.norm(self.dropout(emb))
