"""MedPrompt's weakly supervised prompt learner (Zheng et al., Pattern Recognition'24,
arXiv 2402.03783), written from the paper's description (no official code exists).

MedPrompt is a *classification* method: a CLIP-style medical vision-language model and
a CoOp-like prompt ``[SOS] [V]_1 ... [V]_M [CLASS_k] . [EOS]`` whose context vectors
``[V]_m`` are learned without manual annotations while only the class vector
``[CLASS_k]`` is guided by the image labels. Every choice the description leaves open
is an argument of :class:`MedPromptLearner` (listed in configs/medprompt/README.md):

* ``n_ctx`` (16, CoOp's default), ``ctx_init`` (None: N(0, 0.02) seeded, CoOp's
  generic context; or a phrase whose token embeddings start the context);
* ``class_init``: ``'name'`` (mean of the class name's token embeddings) or
  ``'random'``;
* ``label_guided``: ``'class_only'`` (the paper's statement: the label loss reaches
  the class vectors only, the context is detached there) or ``'all'`` (CoOp);
* the annotation-free context objective :func:`medprompt_ctx_loss`: cross-entropy
  to the model's own (detached) zero-shot predictions, an open choice.

The tensor functions below are importable alone; shapes are in their docstrings.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS


def assemble_prompts(prefix: Tensor, ctx: Tensor, cls_vec: Tensor, suffix: Tensor) -> Tensor:
    """Token embeddings of K prompts ``[SOS] ctx_1..ctx_M cls_k suffix_k``.

    Args:
        prefix: (K, 1, D) the start-of-text embedding per class.
        ctx: (M, D) shared context or (K, M, D) class-specific context.
        cls_vec: (K, D) one learnable class vector per class.
        suffix: (K, S, D) ``'.'``, end-of-text and padding embeddings.
    Returns:
        (K, 1 + M + 1 + S, D).
    """
    k = cls_vec.shape[0]
    if ctx.dim() == 2:
        ctx = ctx.unsqueeze(0).expand(k, -1, -1)
    return torch.cat([prefix, ctx, cls_vec.unsqueeze(1), suffix], dim=1)


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


def medprompt_logits(img_feats: Tensor, text_feats: Tensor, logit_scale: Tensor) -> Tensor:
    """(B, K) CLIP logits: ``scale * cos(img_b, text_k)``.

    Args:
        img_feats: (B, E) image features (any norm).
        text_feats: (K, E) prompt features (any norm).
        logit_scale: scalar, already exponentiated (CLIP's ``logit_scale.exp()``).
    """
    return logit_scale * F.normalize(img_feats, dim=-1) @ F.normalize(text_feats, dim=-1).t()


def medprompt_label_loss(logits: Tensor, labels: Tensor, mode: str = 'bce') -> Tensor:
    """Label loss of the class vectors.

    Args:
        logits: (B, K).
        labels: (B, K) multi-hot image labels (float or bool).
        mode: ``'bce'`` (multi-label, mean BCE-with-logits over B x K; WSSS images
            carry several classes) or ``'ce'`` (the paper's single-label
            classification: softmax cross-entropy to the one-hot label, mean over B;
            rows with several labels use the normalised multi-hot as target).
    Returns:
        scalar.
    """
    labels = labels.float()
    if mode == 'bce':
        return F.binary_cross_entropy_with_logits(logits, labels)
    if mode == 'ce':
        target = labels / labels.sum(1, keepdim=True).clamp(min=1)
        return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
    raise ValueError(f"unknown MedPrompt label loss '{mode}' (bce | ce)")


def medprompt_ctx_loss(logits: Tensor) -> Tensor:
    """Annotation-free context objective (open choice): cross-entropy of the
    softmax prediction to its own detached argmax (self-training on zero-shot
    predictions; uses no label).

    Args:
        logits: (B, K).
    Returns:
        scalar, mean over B.
    """
    return F.cross_entropy(logits, logits.detach().argmax(1))


@MODELS.register_module()
class MedPromptLearner(BaseModule):
    """Learnable prompts for a frozen :class:`~mmwsss.models.foundation.OpenCLIP`.

    Args:
        clip: an ``OpenCLIP`` instance or its config (frozen).
        class_names: K foreground class names (as in the dataset).
        n_ctx: number of context vectors M.
        ctx_init: None (random N(0, 0.02), seeded by ``seed``) or a phrase of
            exactly ``n_ctx`` tokens whose embeddings initialise the context.
        class_specific_ctx: one context per class (CoOp's CSC) instead of shared.
        class_init: ``'name'`` or ``'random'`` (see module docstring).
        label_guided: ``'class_only'`` or ``'all'`` (see module docstring).
        seed: seed of the random initialisations.
    """

    def __init__(self,
                 clip,
                 class_names: Sequence[str],
                 n_ctx: int = 16,
                 ctx_init: Optional[str] = None,
                 class_specific_ctx: bool = False,
                 class_init: str = 'name',
                 label_guided: str = 'class_only',
                 seed: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if label_guided not in ('class_only', 'all'):
            raise ValueError(f"label_guided must be 'class_only' or 'all', got {label_guided}")
        if class_init not in ('name', 'random'):
            raise ValueError(f"class_init must be 'name' or 'random', got {class_init}")
        if not isinstance(clip, nn.Module):
            clip = MODELS.build(clip)
        self.clip = clip
        self.class_names = list(class_names)
        self.label_guided = label_guided
        k = len(self.class_names)
        model = clip.clip
        emb = model.token_embedding
        dim = emb.weight.shape[1]
        gen = torch.Generator().manual_seed(seed)
        # token ids of '<ctx placeholders> <CLASS> .': X stands for each learned slot
        template = ' '.join(['X'] * n_ctx) + ' X.'
        tokens = clip.tokenize([template] * k)  # (K, L)
        with torch.no_grad():
            tok_emb = emb(tokens.to(emb.weight.device)).float()  # (K, L, D)
        self.register_buffer('prefix', tok_emb[:, :1].clone(), persistent=False)
        self.register_buffer('suffix', tok_emb[:, 2 + n_ctx:].clone(), persistent=False)
        self.register_buffer('eot_idx', tokens.argmax(-1), persistent=False)
        if ctx_init is not None:
            ids = clip.tokenize([ctx_init])[0]
            n_words = int(ids.argmax()) - 1
            if n_words != n_ctx:
                raise ValueError(f"ctx_init '{ctx_init}' has {n_words} tokens, n_ctx={n_ctx}")
            with torch.no_grad():
                ctx = emb(ids[1:1 + n_ctx].to(emb.weight.device)).float()
            if class_specific_ctx:
                ctx = ctx.unsqueeze(0).repeat(k, 1, 1)
        else:
            shape = (k, n_ctx, dim) if class_specific_ctx else (n_ctx, dim)
            ctx = torch.randn(shape, generator=gen) * 0.02
        self.ctx = nn.Parameter(ctx)
        if class_init == 'name':
            name_vecs = []
            for name in self.class_names:
                ids = clip.tokenize([name])[0]
                n = int(ids.argmax()) - 1
                with torch.no_grad():
                    name_vecs.append(emb(ids[1:1 + n].to(emb.weight.device)).float().mean(0))
            cls_vec = torch.stack(name_vecs)
        else:
            cls_vec = torch.randn((k, dim), generator=gen) * 0.02
        self.cls_vec = nn.Parameter(cls_vec)

    def text_features(self, detach_ctx: bool = False) -> Tensor:
        """(K, E) L2-normalised prompt features; ``detach_ctx`` stops the gradient
        to the context vectors."""
        ctx = self.ctx.detach() if detach_ctx else self.ctx
        embeds = assemble_prompts(self.prefix, ctx, self.cls_vec, self.suffix)
        return F.normalize(encode_prompt_embeddings(self.clip.clip, embeds, self.eot_idx), dim=-1)

    def losses(self,
               img_feats: Tensor,
               labels: Tensor,
               label_mode: str = 'bce',
               ctx_weight: float = 0.0) -> dict:
        """MedPrompt losses of a batch.

        Args:
            img_feats: (B, E) frozen CLIP image features.
            labels: (B, K) multi-hot labels.
            label_mode: see :func:`medprompt_label_loss`.
            ctx_weight: weight of :func:`medprompt_ctx_loss` (0 = off).
        Returns:
            ``loss_label`` (and ``loss_ctx`` when ``ctx_weight > 0``).
        """
        scale = self.clip.logit_scale
        class_only = self.label_guided == 'class_only'
        logits = medprompt_logits(img_feats, self.text_features(detach_ctx=class_only), scale)
        out = dict(loss_label=medprompt_label_loss(logits, labels, label_mode))
        if ctx_weight > 0:
            # the context is the only thing this loss trains when labels guide the
            # class vectors alone
            feats = self.text_features()
            if class_only:
                embeds = assemble_prompts(self.prefix, self.ctx, self.cls_vec.detach(), self.suffix)
                feats = F.normalize(
                    encode_prompt_embeddings(self.clip.clip, embeds, self.eot_idx), dim=-1)
            out['loss_ctx'] = ctx_weight * medprompt_ctx_loss(
                medprompt_logits(img_feats, feats, scale))
        return out

    def forward(self) -> Tensor:
        """(K, E) prompt features (for CAMs / zero-shot scores)."""
        return self.text_features()
