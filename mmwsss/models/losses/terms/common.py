"""Loss terms every single-stage method uses: image classification and segmentation."""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from .base import LossTerm


@MODELS.register_module()
class ClsTerm(LossTerm):
    """The multi-label loss of CAM head ``cam`` (its own ``loss_decode``).

    Returns ``loss_cls`` (+ ``acc_cls``, logged only); prefixed by the
    term's name, e.g. ``cls.loss_cls`` and ``cls_aux.loss_cls``.
    """

    def __init__(self, name: str = 'cls', cam: str = 'main', **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.cam = cam

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        logits = ctx.require('logits', self.cam)
        head = ctx.extras['cam_heads'][self.cam]
        return head.loss_from_labels(logits, ctx.img_labels)


@MODELS.register_module()
class SegTerm(LossTerm):
    """Segmentation loss of a branch's decode head against a named pseudo label.

    Args:
        branch: the branch whose decode head is trained.
        label: the pseudo label (``ctx.pseudo[label]``) it learns from; DuPL's
            cross supervision is two SegTerms with swapped labels.
        loss: ``'head'`` uses the decode head's own mmseg ``loss_by_feat``
            (its ``loss_decode``, its resize rule) on per-term copies of the
            data samples, so ANY mmseg decode head trains unchanged and no
            shared ``gt_sem_seg`` is overwritten; ``'bg_fg'`` is ToCo's
            ``get_seg_loss``: logits resized to the label (bilinear,
            align_corners=False), then half bg-pixel CE + half fg-pixel CE.
        empty: for ``'bg_fg'``, see :func:`bg_fg_seg_loss`.
    """

    loss_keys = ('loss_seg', )

    def __init__(self,
                 name: str = 'seg',
                 branch: str = 'net',
                 label: str = 'seg',
                 loss: str = 'head',
                 empty: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if loss not in ('head', 'bg_fg'):
            raise ValueError(f"SegTerm loss must be 'head' or 'bg_fg', got {loss!r}")
        self.branch, self.label, self.loss = branch, label, loss
        self.empty = empty

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        if out.seg_logits is None:
            raise KeyError(f"branch '{self.branch}' has no decode head output for SegTerm")
        label = ctx.require('pseudo', self.label)
        if self.loss == 'bg_fg':
            from ..seg_loss import bg_fg_seg_loss
            logits = F.interpolate(
                out.seg_logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
            kw = {} if self.empty is None else dict(empty=self.empty)
            return {'loss_seg': bg_fg_seg_loss(logits, label, **kw)}
        head = ctx.extras['decode_heads'][self.branch]
        samples = []
        for sample, lab in zip(ctx.data_samples, label):
            copy = sample.clone() if hasattr(sample, 'clone') else sample
            copy.gt_sem_seg = PixelData(data=lab[None])
            samples.append(copy)
        return head.loss_by_feat(out.seg_logits, samples)
