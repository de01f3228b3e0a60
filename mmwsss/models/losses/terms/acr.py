"""ACR's loss terms (Sun et al., ICCV'23 Workshop; OpenNLPLab/ACR_WSSS ``train_acr.py``).

    L = MLSM(x_cls1, y) + MLSM(x_cls2, y)
        + alpha * L1(A1[:, :, 0, 1:], U(A2[:, :, 0, 1:]))
        + alpha * L1(A1[:, :, 1:, 1:], U2(A2[:, :, 1:, 1:]))

The first MLSM is :class:`ClsTerm` on the main pass; the flipped view's is
:class:`PassClsTerm` on the view pass; the two L1 terms are :class:`AttentionConsistencyTerm`
(formula: :func:`mmwsss.models.losses.attention_consistency.attention_consistency_loss`).
"""
from typing import Dict

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..attention_consistency import attention_consistency_loss, head_mean_attention
from .base import LossTerm


@MODELS.register_module()
class PassClsTerm(LossTerm):
    """The multi-label loss of CAM head ``cam`` on a view pass (``ctx.passes[view_pass]``).

    ACR's ``cls_loss_2``: the class-token logits of the flipped batch against the same
    image labels. Returns ``loss_cls`` (+ ``acc_cls``, logged only).
    """

    def __init__(self,
                 name: str = 'cls_flip',
                 view_pass: str = 'flip',
                 cam: str = 'cls',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.view_pass = view_pass
        self.cam = cam

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('passes', self.view_pass)
        if self.cam not in out.logits:
            raise KeyError(f"view pass '{self.view_pass}' has no logits of CAM head "
                           f"'{self.cam}'; it has {sorted(out.logits)}")
        head = ctx.extras['cam_heads'][self.cam]
        return head.loss_from_labels(out.logits[self.cam], ctx.img_labels)


@MODELS.register_module()
class AttentionConsistencyTerm(LossTerm):
    """ACR's class-attention + affinity consistency between a branch and its flipped pass.

    Reads the attention maps of every block the backbone returns (``feats.attns``; ACR
    uses all blocks: ``TokenViT(attn_blocks=range(depth))``) for the branch and for the
    view pass, averages heads, un-flips the flipped samples' token grid (per-sample flips
    from ``ctx.view_flips[view]`` when present, else all flipped) and returns
    ``loss_cls_attn`` and ``loss_aff_attn``, both multiplied by the term's ``weight``
    (ACR's alpha: 125 in train_acr.sh, 100 as the argparse default).

    Args:
        branch: the branch of view 1 (the unflipped batch).
        view_pass: the ``view_passes`` entry of view 2.
        view: the preprocessor view of that pass (for its per-sample flips).
    """

    def __init__(self,
                 name: str = 'acr',
                 branch: str = 'net',
                 view_pass: str = 'flip',
                 view: str = 'flip',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.view_pass, self.view = branch, view_pass, view

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        f1 = ctx.require('branches', self.branch).feats
        f2 = ctx.require('passes', self.view_pass).feats
        attns1, attns2 = getattr(f1, 'attns', None), getattr(f2, 'attns', None)
        if not attns1 or not attns2:
            raise KeyError('AttentionConsistencyTerm needs attention maps: give the backbone '
                           'attn_blocks (ACR: every block)')
        blocks = sorted(attns1)
        a1 = head_mean_attention([attns1[b] for b in blocks])
        a2 = head_mean_attention([attns2[b] for b in blocks])
        grid = tuple(f1.grid)
        k = a1.shape[-1] - grid[0] * grid[1]
        flipped = ctx.view_flips.get(self.view)
        loss_cls, loss_aff = attention_consistency_loss(a1, a2, grid, num_prefix=k, flipped=flipped)
        return {'loss_cls_attn': loss_cls, 'loss_aff_attn': loss_aff}
