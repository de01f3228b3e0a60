"""DuPL's loss terms (Wu et al., CVPR'24) on the chassis: discrepancy, strong-view consistency.

DuPL = two ToCo-style students without CTC. Its other terms are shared parts:
four ``ClsTerm`` (cls + aux of each branch), a ``PTCTerm`` per branch on its own
aux-CAM label, and the cross supervision = two ``SegTerm(loss='bg_fg')`` with
swapped labels (b1 learns from b2's label, b2 from b1's), the labels coming from
``CAMLabelSource`` (PAR, dynamic threshold) and ``GMMNoiseFilter``. The formulas
are plain tensor functions in ``feature_discrepancy.py`` and
``strong_view_consistency.py``. Reference: DuPL ``train_final_voc.py``.

Branch, label, pass and view names are arguments, so the same terms serve any
pair of students (e.g. a cross-architecture pair).
"""
from typing import Dict, Sequence

import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..feature_discrepancy import feature_discrepancy_loss
from ..strong_view_consistency import strong_view_consistency_loss
from .base import LossTerm


@MODELS.register_module()
class DiscrepancyTerm(LossTerm):
    """DuPL's ``sim_loss`` between the final token maps of two branches.

    ``feature_discrepancy_loss(feats_a[i], feats_b[i])``: both directions, each
    with the other branch detached. DuPL VOC: weight 0.1, always on (COCO: 0.05
    after iteration 8000).

    Args:
        branches: the two branch names.
        feature_index: which backbone output map (DuPL's ``_x4``: the post-norm
            last block, the decoder input; ``-1`` with ``out_blocks=(-1, )``).
        eps: of the cosine similarity (DuPL: 1e-6).
    """

    loss_keys = ('loss_sim', )

    def __init__(self,
                 name: str = 'sim',
                 branches: Sequence[str] = ('b1', 'b2'),
                 feature_index: int = -1,
                 eps: float = 1e-6,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if len(branches) != 2 or branches[0] == branches[1]:
            raise ValueError(f'DiscrepancyTerm needs two different branches, got {branches}')
        self.branches = tuple(branches)
        self.feature_index = feature_index
        self.eps = eps

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        fa, fb = (ctx.require('branches', b).feats[self.feature_index] for b in self.branches)
        if fa.shape != fb.shape:
            raise ValueError(f'DiscrepancyTerm: branch features {tuple(fa.shape)} and '
                             f'{tuple(fb.shape)} differ; project them to one shape first')
        return {'loss_sim': feature_discrepancy_loss(fa, fb, self.eps)}


@MODELS.register_module()
class StrongConsistencyTerm(LossTerm):
    """DuPL's ``reg_loss`` of one branch: strong-view seg vs confident weak seg.

    The strong view's seg logits come from a segmentor view pass
    (``view_passes=dict(strong1=dict(branch='b1', view='strong', cam_heads=()))``),
    its per-sample flips from ``ctx.view_flips[view]``; the weak logits are the
    branch's training-pass seg logits resized to the label (bilinear,
    ``align_corners=False``). See :func:`strong_view_consistency_loss`.
    DuPL VOC: weight 0.05 for ``n_iter > 8000`` (``StepOn(8000)``).

    Args:
        branch: the branch trained.
        label: the pseudo label that supervises ``branch`` (DuPL: the OTHER
            branch's GMM-filtered label); its 255 pixels are the candidates.
        pass_name: the view pass of ``branch`` on the strong view.
        view: the preprocessor view of that pass (for its flips).
        conf_thr: weak-confidence threshold (DuPL: 0.9).
    """

    loss_keys = ('loss_reg', )

    def __init__(self,
                 name: str = 'reg',
                 branch: str = 'b1',
                 label: str = 'l2_gmm',
                 pass_name: str = 'strong1',
                 view: str = 'strong',
                 conf_thr: float = 0.9,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.label = branch, label
        self.pass_name, self.view = pass_name, view
        self.conf_thr = conf_thr

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        label = ctx.require('pseudo', self.label)
        weak = ctx.require('branches', self.branch).seg_logits
        strong = ctx.require('passes', self.pass_name).seg_logits
        if weak is None or strong is None:
            raise KeyError(f"StrongConsistencyTerm: branch '{self.branch}' or pass "
                           f"'{self.pass_name}' has no seg logits")
        weak = F.interpolate(weak, size=label.shape[-2:], mode='bilinear', align_corners=False)
        flips = ctx.view_flips.get(self.view)
        return {
            'loss_reg':
            strong_view_consistency_loss(strong, weak, label, flips, conf_thr=self.conf_thr)
        }
