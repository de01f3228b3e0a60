"""MMCST's contrastive terms (the classification terms are ``ClsTerm`` on the MMCST heads).

Both read the output class tokens of a branch (``ctx.branches[branch].feats.cls_tokens``,
(B, K, D) in :class:`~mmwsss.models.backbones.MMCSTViT`'s layout: C visual tokens, then C
text tokens with ``token_mode='both'``).
"""
from typing import Dict, Optional

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..mmcst_loss import class_token_contrast, text_visual_contrast
from .base import LossTerm


def _class_tokens(ctx: TrainContext, branch: str) -> Tensor:
    out = ctx.require('branches', branch)
    cls = getattr(out.feats, 'cls_tokens', None)
    if cls is None:
        raise KeyError(f"branch '{branch}' returned no class tokens (MMCSTViT)")
    return cls


@MODELS.register_module()
class MMCSTTextVisualTerm(LossTerm):
    """:func:`~mmwsss.models.losses.mmcst_loss.text_visual_contrast` between the visual
    tokens ``[0, C)`` and the text tokens ``[text_offset, text_offset + C)``.

    Returns ``loss_tv``.
    """

    loss_keys = ('loss_tv', )

    def __init__(self,
                 num_classes: int,
                 name: str = 'tv',
                 branch: str = 'net',
                 text_offset: Optional[int] = None,
                 tau: float = 0.07,
                 anchors: str = 'present',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.branch = branch
        self.text_offset = self.num_classes if text_offset is None else int(text_offset)
        self.tau, self.anchors = float(tau), anchors

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        cls = _class_tokens(ctx, self.branch)
        C, o = self.num_classes, self.text_offset
        if cls.shape[1] < o + C:
            raise ValueError(f'MMCSTTextVisualTerm needs {o + C} class tokens (visual + text, '
                             f"token_mode='both'), got {cls.shape[1]}")
        return {
            'loss_tv':
            text_visual_contrast(cls[:, :C], cls[:, o:o + C], ctx.img_labels, self.tau,
                                 self.anchors)
        }


@MODELS.register_module()
class MMCSTClassTokenTerm(LossTerm):
    """:func:`~mmwsss.models.losses.mmcst_loss.class_token_contrast` over all K class
    tokens of the branch; token t belongs to class ``t % num_classes`` (the layout of
    ``MMCSTViT``: visual 0..C-1, then text 0..C-1).

    Returns ``loss_ctc``.
    """

    loss_keys = ('loss_ctc', )

    def __init__(self,
                 num_classes: int,
                 name: str = 'ctc',
                 branch: str = 'net',
                 tau: float = 0.1,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.branch = branch
        self.tau = float(tau)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        cls = _class_tokens(ctx, self.branch)
        classes = [t % self.num_classes for t in range(cls.shape[1])]
        return {'loss_ctc': class_token_contrast(cls, classes, ctx.img_labels, self.tau)}
