"""MoRe's loss terms (Yang et al., AAAI'25) on the chassis: attri (+ GCR), CLE, UNE.

The formulas are plain tensor functions in ``class_token_contrast.py``; GCR is
:class:`~mmwsss.models.heads.GCRHead`. Reference: zwyang6/MoRe ``scripts/train_voc.py``
(``attr_tokens = graph_layer(mctokens, _x)``; ``multi_cls_loss``, ``CRELoss_neg``,
``URELoss_neg`` on them).

:class:`AttriTerm` owns the GCR (so its weights sit under ``loss_terms`` and get the
config's x10 learning rate, MoRe's GCR group), runs it once per step on the branch's
class tokens and final patch tokens and leaves the refined tokens in
``ctx.extras['class_tokens'][out]`` for the CLE / UNE terms, which therefore come
AFTER it in ``loss_terms``. The mask switches of the official script (CLE / UNE labels
from the aux CAM until iteration 10000, from the final CAM after) are two terms on
two label sources with ``Window`` / ``StepOn`` schedules (configs/_base_/models/more_vit-b16.py).
"""
from typing import Dict, Optional

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...heads.gcr_head import GCRHead
from ..class_token_contrast import attri_loss, cle_loss, une_loss
from .base import LossTerm

EXTRAS_KEY = 'class_tokens'


def _class_tokens(feats) -> Tensor:
    tokens = getattr(feats, 'cls_tokens', None)
    if tokens is None:
        raise KeyError('MoRe terms need class tokens: use a TokenViT with with_cls_token=True '
                       'and class_tokens=dict(num=..., drop=...)')
    return tokens


def _grid_label(ctx: TrainContext, name: str, patch_map: Tensor) -> Tensor:
    label = ctx.require('pseudo', name)
    if tuple(label.shape[-2:]) != tuple(patch_map.shape[-2:]):
        raise ValueError(f"label '{name}' is {tuple(label.shape[-2:])} but the tokens are "
                         f"{tuple(patch_map.shape[-2:])}: use CAMLabelSource(size='cam')")
    return label


def _refined_tokens(ctx: TrainContext, key: str) -> Tensor:
    table = ctx.extras.get(EXTRAS_KEY, {})
    if key not in table:
        raise KeyError(f"no refined class tokens '{key}' in ctx.extras['{EXTRAS_KEY}'] "
                       f'(have {sorted(table)}): put the AttriTerm with out=\'{key}\' before '
                       'this term and keep it on (skip_when_off=False)')
    return table[key]


@MODELS.register_module()
class AttriTerm(LossTerm):
    """GCR on the class tokens, then MoRe's attri loss on its output.

    ``t = GCR(cls_tokens, final patch tokens)`` (official ``with_gcr=True``);
    ``loss_attri = attri_loss(t, temp)``; ``t`` is stored for CLE / UNE. MoRe:
    weight 1, always on.

    Args:
        branch: the branch with the class-token backbone.
        in_dim: token width (GCR width).
        gcr: GCRHead overrides (``tok_ratio``, ``attention``); None keeps defaults.
        with_gcr: False feeds the backbone's class tokens directly (no GCR).
        feature_index: backbone output map with the final patch tokens (ToCo's ``_x``).
        temp: attri temperature (0.07).
        out: key of the refined tokens in ``ctx.extras['class_tokens']``.
    """

    loss_keys = ('loss_attri', )

    def __init__(self,
                 in_dim: int,
                 name: str = 'attri',
                 branch: str = 'net',
                 gcr: Optional[dict] = None,
                 with_gcr: bool = True,
                 feature_index: int = -1,
                 temp: float = 0.07,
                 out: str = 'gcr',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.feature_index, self.temp, self.out = branch, feature_index, temp, out
        self.gcr = GCRHead(in_dim=in_dim, **(gcr or {})) if with_gcr else None

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        feats = ctx.require('branches', self.branch).feats
        tokens = _class_tokens(feats)
        if self.gcr is not None:
            tokens = self.gcr(tokens, feats[self.feature_index])
        ctx.extras.setdefault(EXTRAS_KEY, {})[self.out] = tokens
        return {'loss_attri': attri_loss(tokens, self.temp)}


@MODELS.register_module()
class CLETerm(LossTerm):
    """Class-token contrast against the patch tokens of each class (``CRELoss_neg``).

    ``cle_loss(refined class tokens, final patch tokens (detached), label)`` with the
    label on the token grid. MoRe VOC: weight 0.2, temp 0.5; label = aux CAM with
    ignore band (0.25, 0.5] until 10000, then the final CAM with (0.35, 0.6].

    Args:
        tokens: key of the refined class tokens (the AttriTerm's ``out``).
        label: the token-grid pseudo label.
        feature_index: backbone output map with the final patch tokens.
        temp: temperature.
    """

    loss_keys = ('loss_cle', )

    def __init__(self,
                 name: str = 'cle',
                 branch: str = 'net',
                 tokens: str = 'gcr',
                 label: str = 'cle',
                 feature_index: int = -1,
                 temp: float = 0.5,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.tokens, self.label = branch, tokens, label
        self.feature_index, self.temp = feature_index, temp

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        patch = ctx.require('branches', self.branch).feats[self.feature_index]
        label = _grid_label(ctx, self.label, patch)
        tokens = _refined_tokens(ctx, self.tokens)
        return {'loss_cle': cle_loss(tokens, patch, label, ctx.img_labels, self.temp)}


@MODELS.register_module()
class UNETerm(LossTerm):
    """Uncertain patch tokens vs the detached class tokens (``URELoss_neg``).

    ``une_loss`` on at most ``crop_num`` uncertain tokens per image (6x6-window rule,
    padded with ``(crop_num - n) // pad_div`` fg tokens). MoRe VOC: weight 0.1; label =
    aux CAM with ignore band (0.25, 0.7] until 10000, then the final CAM (0.35, 0.6].

    Args:
        crop_num, kernel_size, win_thr, pad_div, token: see
            :func:`~mmwsss.models.losses.class_token_contrast.select_uncertain_tokens`
            (``token='corner'`` is the official indexing).
    """

    loss_keys = ('loss_une', )

    def __init__(self,
                 name: str = 'une',
                 branch: str = 'net',
                 tokens: str = 'gcr',
                 label: str = 'une',
                 feature_index: int = -1,
                 crop_num: int = 8,
                 kernel_size: int = 6,
                 win_thr: float = 1.2,
                 pad_div: int = 4,
                 token: str = 'centre',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.tokens, self.label = branch, tokens, label
        self.feature_index = feature_index
        self.select = dict(
            crop_num=crop_num,
            kernel_size=kernel_size,
            win_thr=win_thr,
            pad_div=pad_div,
            token=token)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        patch = ctx.require('branches', self.branch).feats[self.feature_index]
        label = _grid_label(ctx, self.label, patch)
        tokens = _refined_tokens(ctx, self.tokens)
        return {'loss_une': une_loss(tokens, patch, label, ctx.img_labels, **self.select)}
