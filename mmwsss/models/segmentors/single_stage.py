"""Single-stage WSSS: CAMs of a classification branch train any mmseg decode head."""
from typing import List, Sequence

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..heads.cam_head import stack_img_labels
from .cam_classifier import CAMPredictMixin, build_cam_cfg


def in_parent_scope(cfg: dict) -> dict:
    """Build 'mmseg.X' parts inside mmseg's scope.

    A prefix does not carry down to the part's own defaults (an mmseg decode
    head's default ``loss_decode=dict(type='CrossEntropyLoss')`` would be looked
    up in mmwsss), so ``type='mmseg.ASPPHead'`` becomes ``type='ASPPHead',
    _scope_='mmseg'``: the head is built exactly as mmseg builds it.
    """
    if not isinstance(cfg, dict) or '_scope_' in cfg:
        return cfg
    t = cfg.get('type')
    if isinstance(t, str) and '.' in t:
        scope, name = t.split('.', 1)
        if scope in ('mmseg', 'mmpretrain'):
            return dict(cfg, type=name, _scope_=scope)
    return cfg


@MODELS.register_module()
class SingleStageWSSS(CAMPredictMixin, EncoderDecoder):
    """Backbone -> (CAM ``cls_head``, any mmseg ``decode_head``).

    Training: the CAM head learns from image labels; ``label_source`` turns
    its CAMs into online pseudo labels written into each sample's
    ``gt_sem_seg``, so the decode head (ASPPHead, SegformerHead, FCNHead, ...)
    trains through its own unchanged ``loss``. ``extra_losses`` are pluggable
    terms: modules called as ``term(ctx) -> dict of losses`` with the context
    (inputs, feats, cams, logits, img_labels, pseudo_label, img, data_samples,
    model, iter). Inference goes through the decode head (mmseg's path);
    ``test_cfg.predict_source='cam'`` returns the CAM branch instead.

    Args:
        cls_head: a :class:`CAMHead` config.
        label_source: e.g. ``dict(type='CAMLabelSource', ...)``.
        seg_loss_start_iter: decode-head loss weight is 0 before this iteration
            (ToCo switches the seg loss on after 2000 iterations).
        extra_losses: list of loss-term configs.
        cls_in_index: feature level of the CAM head (its own ``in_index``).
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 cls_head: dict,
                 label_source: dict = dict(type='CAMLabelSource'),
                 seg_loss_start_iter: int = 0,
                 extra_losses: Sequence[dict] = (),
                 **kwargs) -> None:
        decode_head = in_parent_scope(decode_head)
        if kwargs.get('auxiliary_head') is not None:
            aux = kwargs['auxiliary_head']
            kwargs['auxiliary_head'] = [in_parent_scope(a) for a in aux] \
                if isinstance(aux, (list, tuple)) else in_parent_scope(aux)
        # mmseg's inference reads test_cfg.mode: default to whole-image inference
        test_cfg = ConfigDict(kwargs.pop('test_cfg', None) or {})
        test_cfg.setdefault('mode', 'whole')
        super().__init__(backbone=backbone, decode_head=decode_head, test_cfg=test_cfg,
                         **kwargs)
        self.cls_head = MODELS.build(cls_head)
        self.label_source = MODELS.build(label_source)
        self.seg_loss_start_iter = seg_loss_start_iter
        self.extra_losses = nn.ModuleList([MODELS.build(t) for t in extra_losses])
        test_cfg = dict(self.test_cfg or {})
        self.predict_source = test_cfg.get('predict_source', 'seg')
        self.cam_cfg = build_cam_cfg(test_cfg.get('cam', {}))

    @property
    def cam_head(self):
        return self.cls_head

    def _denormalize(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 RGB image for image-aware refiners (CRF, PAR).

        Undoes the data preprocessor's normalisation; images are loaded BGR, so
        they are flipped to RGB unless the preprocessor already converted them.
        """
        pre = self.data_preprocessor
        img = inputs.detach()
        std = getattr(pre, 'std', None)
        mean = getattr(pre, 'mean', None)
        if std is not None:
            img = img * std.to(img)
        if mean is not None:
            img = img + mean.to(img)
        if not getattr(pre, 'channel_conversion', False):
            img = img.flip(1)
        return img.round().clamp(0, 255).to(torch.uint8)

    @staticmethod
    def _current_iter() -> int:
        return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        feats = self.extract_feat(inputs)
        logits, cams = self.cls_head.forward_both(feats)
        img_labels = stack_img_labels(data_samples, self.cls_head.num_classes, inputs.device)
        losses = dict()
        for loss_fn in self._cls_losses():
            name = loss_fn.loss_name
            losses[name] = losses.get(name, 0) + loss_fn(logits, img_labels)

        ctx = dict(inputs=inputs, feats=feats, cams=cams, logits=logits,
                   img_labels=img_labels, img=self._denormalize(inputs),
                   data_samples=data_samples, model=self, iter=self._current_iter())
        pseudo = self.label_source(ctx)
        ctx['pseudo_label'] = pseudo
        for sample, label in zip(data_samples, pseudo):
            sample.gt_sem_seg = PixelData(data=label[None])

        seg_losses = self.decode_head.loss(feats, data_samples, self.train_cfg)
        weight = 0.0 if ctx['iter'] < self.seg_loss_start_iter else 1.0
        for k, v in seg_losses.items():
            losses[f'decode.{k}'] = v * weight if 'loss' in k else v
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(feats, data_samples))
        for term in self.extra_losses:
            losses.update(term(ctx))
        return losses

    def _cls_losses(self) -> List[nn.Module]:
        ld = self.cls_head.loss_decode
        return list(ld) if isinstance(ld, nn.ModuleList) else [ld]

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        if self.predict_source == 'cam':
            return self.predict_cam_samples(inputs, data_samples)
        return super().predict(inputs, data_samples)
