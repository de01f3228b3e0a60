"""Learnable text prompts for a frozen CLIP text tower (CoOp and its WSSS variants).

Several surveyed methods learn prompt token embeddings instead of writing prompts:
CoOp's context vectors in FMA (shared context with the class name at the end for the
classification task; class-specific context with the name in front for the
segmentation task), SemPLeS's class-specific background prompts inside a fixed phrase
(``'a photo of [P_1 .. P_L].'``, no class name), MedPrompt's context plus one learned
class vector. :class:`PromptLearner` is that one idea: a *template* with slots,

* ``{ctx}``  -- ``n_ctx`` learned vectors (shared, or one set per class);
* ``{name}`` -- the class name's own (fixed) token embeddings;
* ``{cls}``  -- one learned vector per class (initialised from the mean of the
  name's token embeddings, or randomly);
* any other text -- fixed token embeddings,

tokenised piece by piece with CLIP's BPE tokenizer so that the slot positions are
exact (a whole-string tokenisation of ``'X X X cat.'`` gives the same ids; a test
checks it), then run through the text transformer from embeddings
(:func:`encode_prompt_embeddings`), pooled at the end-of-text token.
"""
import re
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS

SLOTS = ('ctx', 'name', 'cls')


def encode_prompt_embeddings(clip: nn.Module, embeds: Tensor, eot_idx: Tensor) -> Tensor:
    """open_clip ``CLIP.encode_text`` on token embeddings instead of token ids.

    Args:
        clip: an ``open_clip.model.CLIP`` (``OpenCLIP.clip``).
        embeds: (K, L, D) token embeddings, L = the model's context length.
        eot_idx: (K,) position of the end-of-text token (the pooled token).
    Returns:
        (K, E) unnormalised text features.
    """
    x = embeds.to(clip.transformer.get_cast_dtype()) + clip.positional_embedding
    x = clip.transformer(x, attn_mask=clip.attn_mask)
    x = clip.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), eot_idx]
    proj = clip.text_projection
    if proj is not None:
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
    return x


def parse_template(template: str) -> List[Tuple[str, str]]:
    """Split a prompt template into ``[(kind, text)]`` pieces.

    ``kind`` is ``'text'`` or one of :data:`SLOTS`. ``'a photo of {ctx}.'`` ->
    ``[('text', 'a photo of '), ('ctx', ''), ('text', '.')]``.
    """
    pieces = []
    pos = 0
    for m in re.finditer(r'\{(\w+)\}', template):
        if m.group(1) not in SLOTS:
            raise KeyError(f"prompt template '{template}': unknown slot "
                           f"'{{{m.group(1)}}}' (use {', '.join('{%s}' % s for s in SLOTS)})")
        if m.start() > pos:
            pieces.append(('text', template[pos:m.start()]))
        pieces.append((m.group(1), ''))
        pos = m.end()
    if pos < len(template):
        pieces.append(('text', template[pos:]))
    kinds = [k for k, _ in pieces]
    for slot in ('ctx', 'cls'):
        if kinds.count(slot) > 1:
            raise ValueError(f"prompt template '{template}' has '{{{slot}}}' twice")
    return pieces


def template_token_ids(template: str,
                       names: Sequence[str],
                       n_ctx: int,
                       context_length: int = 77) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Token ids of one prompt per class and where the learned slots sit.

    Args:
        template: see :func:`parse_template`.
        names: K class names.
        n_ctx: number of ``{ctx}`` slots.
        context_length: CLIP's text length (77).
    Returns:
        ids (K, context_length) long (slot positions hold the id of ``'x'``, whose
        embedding is replaced); ctx_pos (K, n_ctx) long (empty when the template has
        no ``{ctx}``); cls_pos (K,) long (-1 when no ``{cls}``); eot_idx (K,) long.
    """
    from open_clip.tokenizer import _tokenizer as bpe
    sot, eot = bpe.encoder['<start_of_text>'], bpe.encoder['<end_of_text>']
    filler = bpe.encode('x')[0]
    pieces = parse_template(template)
    rows, ctx_pos, cls_pos, eot_idx = [], [], [], []
    for name in names:
        ids = [sot]
        c_pos, k_pos = [], -1
        for kind, text in pieces:
            if kind == 'text':
                ids += bpe.encode(text)
            elif kind == 'name':
                ids += bpe.encode(name)
            elif kind == 'ctx':
                c_pos = list(range(len(ids), len(ids) + n_ctx))
                ids += [filler] * n_ctx
            else:
                k_pos = len(ids)
                ids.append(filler)
        ids.append(eot)
        if len(ids) > context_length:
            raise ValueError(f"prompt '{template}' for class '{name}' has {len(ids)} tokens, "
                             f'more than the context length {context_length}')
        eot_idx.append(len(ids) - 1)
        rows.append(ids + [0] * (context_length - len(ids)))
        ctx_pos.append(c_pos)
        cls_pos.append(k_pos)
    return (torch.tensor(rows), torch.tensor(ctx_pos, dtype=torch.long).view(len(names), -1),
            torch.tensor(cls_pos), torch.tensor(eot_idx))


def fill_prompt_slots(embeds: Tensor, ctx_pos: Tensor, ctx: Optional[Tensor], cls_pos: Tensor,
                      cls_vec: Optional[Tensor]) -> Tensor:
    """Write the learned vectors into the fixed token embeddings (out of place, so
    gradients reach ``ctx`` and ``cls_vec``).

    Args:
        embeds: (K, L, D) fixed token embeddings.
        ctx_pos: (K, M) slot positions; ctx: (M, D) shared or (K, M, D) per class.
        cls_pos: (K,) slot positions (-1: none); cls_vec: (K, D).
    Returns:
        (K, L, D).
    """
    k = embeds.shape[0]
    rows = torch.arange(k, device=embeds.device)
    if ctx is not None and ctx_pos.numel():
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(k, -1, -1)
        r = rows[:, None].expand_as(ctx_pos)
        embeds = embeds.index_put((r.reshape(-1), ctx_pos.reshape(-1)),
                                  ctx.reshape(-1, ctx.shape[-1]).to(embeds.dtype))
    if cls_vec is not None and bool((cls_pos >= 0).all()):
        embeds = embeds.index_put((rows, cls_pos), cls_vec.to(embeds.dtype))
    return embeds


@MODELS.register_module()
class PromptLearner(BaseModule):
    """K learnable prompts for a frozen :class:`~mmwsss.models.foundation.OpenCLIP`.

    Args:
        clip: an ``OpenCLIP`` instance or its config (kept frozen; not a submodule
            of the learner's parameters beyond what ``clip`` already holds).
        class_names: K class names (one prompt each).
        template: prompt with ``{ctx}`` / ``{name}`` / ``{cls}`` slots. CoOp with the
            class at the end: ``'{ctx} {name}.'``; in front: ``'{name} {ctx}.'``.
        n_ctx: number of context vectors M.
        class_specific_ctx: one context per class (CoOp's CSC) instead of shared.
        ctx_init: how the context starts: ``'normal'`` (N(0, ctx_std), CoOp),
            ``'uniform'`` (U[0, 1), as ``torch.rand``; SemPLeS) or a phrase of
            exactly ``n_ctx`` tokens whose embeddings start it.
        ctx_std: std of the ``'normal'`` init (CoOp 0.02, FMA 0.015).
        class_init: ``'name'`` (mean of the name's token embeddings) or
            ``'random'`` (N(0, ctx_std)) for the ``{cls}`` vectors.
        seed: seed of the random initialisations.
    """

    def __init__(self,
                 clip,
                 class_names: Sequence[str],
                 template: str = '{ctx} {name}.',
                 n_ctx: int = 16,
                 class_specific_ctx: bool = False,
                 ctx_init: str = 'normal',
                 ctx_std: float = 0.02,
                 class_init: str = 'name',
                 seed: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if class_init not in ('name', 'random'):
            raise ValueError(f"class_init must be 'name' or 'random', got {class_init}")
        if not isinstance(clip, nn.Module):
            clip = MODELS.build(clip)
        self.clip = clip
        self.class_names = list(class_names)
        self.template = template
        k = len(self.class_names)
        model = clip.clip
        emb = model.token_embedding
        dim = emb.weight.shape[1]
        kinds = [kind for kind, _ in parse_template(template)]
        ids, ctx_pos, cls_pos, eot_idx = template_token_ids(template, self.class_names, n_ctx,
                                                            model.context_length)
        with torch.no_grad():
            fixed = emb(ids.to(emb.weight.device)).float()
        self.register_buffer('token_ids', ids, persistent=False)
        self.register_buffer('fixed_embeds', fixed, persistent=False)
        self.register_buffer('ctx_pos', ctx_pos, persistent=False)
        self.register_buffer('cls_pos', cls_pos, persistent=False)
        self.register_buffer('eot_idx', eot_idx, persistent=False)
        gen = torch.Generator().manual_seed(seed)
        self.ctx = None
        if 'ctx' in kinds:
            shape = (k, n_ctx, dim) if class_specific_ctx else (n_ctx, dim)
            if ctx_init == 'normal':
                ctx = torch.randn(shape, generator=gen) * ctx_std
            elif ctx_init == 'uniform':
                ctx = torch.rand(shape, generator=gen)
            else:
                phrase = clip.tokenize([ctx_init])[0]
                n_words = int(phrase.argmax()) - 1
                if n_words != n_ctx:
                    raise ValueError(f"ctx_init '{ctx_init}' has {n_words} tokens, "
                                     f'n_ctx={n_ctx}')
                with torch.no_grad():
                    ctx = emb(phrase[1:1 + n_ctx].to(emb.weight.device)).float()
                if class_specific_ctx:
                    ctx = ctx.unsqueeze(0).repeat(k, 1, 1)
            self.ctx = nn.Parameter(ctx)
        self.cls_vec = None
        if 'cls' in kinds:
            if class_init == 'name':
                vecs = []
                for name in self.class_names:
                    name_ids = clip.tokenize([name])[0]
                    n = int(name_ids.argmax()) - 1
                    with torch.no_grad():
                        vecs.append(emb(name_ids[1:1 + n].to(emb.weight.device)).float().mean(0))
                cls_vec = torch.stack(vecs)
            else:
                cls_vec = torch.randn((k, dim), generator=gen) * ctx_std
            self.cls_vec = nn.Parameter(cls_vec)

    def prompt_embeddings(self, detach: Sequence[str] = ()) -> Tensor:
        """(K, L, D) token embeddings with the learned slots filled in.

        Args:
            detach: names of learned parts (``'ctx'``, ``'cls'``) whose gradient is
                stopped (MedPrompt trains the class vectors and the context with
                different losses).
        """
        ctx = self.ctx.detach() if (self.ctx is not None and 'ctx' in detach) else self.ctx
        cls_vec = self.cls_vec
        if cls_vec is not None and 'cls' in detach:
            cls_vec = cls_vec.detach()
        return fill_prompt_slots(self.fixed_embeds, self.ctx_pos, ctx, self.cls_pos, cls_vec)

    def text_features(self, detach: Sequence[str] = (), normalize: bool = True) -> Tensor:
        """(K, E) prompt features (L2-normalised unless ``normalize=False``)."""
        feats = encode_prompt_embeddings(self.clip.clip, self.prompt_embeddings(detach),
                                         self.eot_idx)
        return F.normalize(feats, dim=-1) if normalize else feats

    def forward(self) -> Tensor:
        """(K, E) L2-normalised prompt features."""
        return self.text_features()

    def extra_repr(self) -> str:
        return f"template='{self.template}', classes={len(self.class_names)}"
