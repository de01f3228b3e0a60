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

import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from .prompt_learner import PromptLearner


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
class MedPromptLearner(PromptLearner):
    """MedPrompt's prompts ``[SOS] ctx_1..ctx_M [CLASS_k] . [EOS]`` for a frozen
    :class:`~mmwsss.models.foundation.OpenCLIP`: a :class:`PromptLearner` with the
    template ``'{ctx} {cls}.'`` and the label guidance of the paper.

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
        if label_guided not in ('class_only', 'all'):
            raise ValueError(f"label_guided must be 'class_only' or 'all', got {label_guided}")
        super().__init__(
            clip,
            class_names,
            template='{ctx} {cls}.',
            n_ctx=n_ctx,
            class_specific_ctx=class_specific_ctx,
            ctx_init='normal' if ctx_init is None else ctx_init,
            ctx_std=0.02,
            class_init=class_init,
            seed=seed,
            init_cfg=init_cfg)
        self.label_guided = label_guided

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
        detach = ('ctx', ) if class_only else ()
        logits = medprompt_logits(img_feats, self.text_features(detach), scale)
        out = dict(loss_label=medprompt_label_loss(logits, labels, label_mode))
        if ctx_weight > 0:
            # the context is the only thing this loss trains when labels guide the
            # class vectors alone
            feats = self.text_features(('cls', ) if class_only else ())
            out['loss_ctx'] = ctx_weight * medprompt_ctx_loss(
                medprompt_logits(img_feats, feats, scale))
        return out
