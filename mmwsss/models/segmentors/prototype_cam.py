"""Single-stage WSSS whose inference CAM needs the image labels (prototype methods).

SIPE's IS-CAM (and POT's fused CAM) is not ``cam_fn(images)``: the image-specific
prototypes are built from seeds masked by the image labels, and the CAM has its own
background channel (argmax, no background threshold). :class:`PrototypeCAMWSSS` is
:class:`SingleStageWSSS` (same training step, same parts) with a CAM prediction that asks
the CAM head for ``head.label_cam_fn(branch, img_labels, data_samples)``, a callable
``x (B, 3, h, w) -> scores (B, 1 + C, h', w')`` at one scale, and merges the scales.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample, stack_img_labels
from ..utils.cam import merge, normalize_cams, scores_to_label
from ..utils.cam_inference import rescale_inputs
from ..utils.image_norm import preprocessor_stats
from .single_stage import SingleStageWSSS

LABEL_CAM_DEFAULTS = dict(
    scales=(1.0, ), input_resize='scale_factor', align_corners=False, scale_merge='sum', norm='max')


@MODELS.register_module()
class PrototypeCAMWSSS(SingleStageWSSS):
    """:class:`SingleStageWSSS` + label-aware multi-scale CAMs with a bg channel.

    ``test_cfg.predict_source='cam'`` and ``test_cfg.label_cam=dict(scales, input_resize,
    align_corners, scale_merge, norm)``: per image (its un-padded region) and scale, the
    input is rescaled (:func:`rescale_inputs`: ``'pil_bicubic'`` for IRN-style data
    loaders), ``head.label_cam_fn`` gives (1, 1 + C, h', w') scores, which are resized
    bilinearly to the image, merged over scales (sum) and normalised per channel
    (``normalize_cams``, max), unless the head has ``merge_label_cams(per_scale, scales)``
    (POT's IS_CAM + IS_CAM1). Without ``label_cam`` the parent's CAM prediction is used.

    Each predicted sample gets ``cams`` (C, H, W) = the fg channels masked by the image
    labels, ``pred_sem_seg`` = argmax over bg + labelled classes (the seed protocol of
    these methods, score with ``CAMMetric(source='pred_sem_seg')``), and the bg channel as
    metainfo ``bg_cam`` (H, W), which the refiners of ``refiners/bg_channel.py`` read in
    ``tools/generate_pseudo_labels.py``.
    """

    def label_cam_cfg(self) -> dict:
        cfg = dict(LABEL_CAM_DEFAULTS)
        cfg.update(self.test_cfg.get('label_cam') or {})
        return cfg

    @torch.no_grad()
    def predict_label_cams(self, inputs: Tensor,
                           data_samples: OptSampleList) -> List[Tuple[Tensor, Tensor]]:
        """Per image ``(scores (1 + C, H_ori, W_ori) in [0, 1], labels (C,))``."""
        cfg = self.label_cam_cfg()
        img_norm = preprocessor_stats(getattr(self, 'data_preprocessor', None)) \
            if cfg['input_resize'] == 'pil_bicubic' else None
        head_name = self.predict_cam_head
        branch = self.branches[self._head_branch[head_name]]
        head = branch.cam_heads[head_name]
        if data_samples is None:
            raise ValueError('label-aware CAM prediction needs data samples with image labels')
        labels = stack_img_labels(data_samples, head.num_classes, inputs.device)
        results = []
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            h, w = tuple(meta.get('img_shape', inputs.shape[-2:])[:2])
            x = inputs[i:i + 1, :, :h, :w]
            fn = head.label_cam_fn(branch, labels[i:i + 1], [sample])
            per_scale = []
            for s in cfg['scales']:
                xs = rescale_inputs(x, s, cfg['input_resize'], cfg['align_corners'], img_norm)
                sc = fn(xs)
                per_scale.append(
                    F.interpolate(
                        sc, size=(h, w), mode='bilinear', align_corners=cfg['align_corners']))
            merge_fn = getattr(head, 'merge_label_cams', None)
            if callable(merge_fn):  # a method's own scale merge (POT: IS_CAM + IS_CAM1)
                scores = merge_fn(per_scale, cfg['scales'])
            else:
                scores = normalize_cams(merge(per_scale, cfg['scale_merge']), cfg['norm'])
            if meta.get('flip', False):
                scores = scores.flip(-1 if meta.get('flip_direction') == 'horizontal' else -2)
            ori = tuple(meta.get('ori_shape', (h, w))[:2])
            if ori != (h, w):
                scores = F.interpolate(scores, size=ori, mode='bilinear', align_corners=False)
            results.append((scores[0], labels[i]))
        return results

    def predict_cam_samples(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        if not self.test_cfg.get('label_cam'):
            return super().predict_cam_samples(inputs, data_samples)
        outs = self.predict_label_cams(inputs, data_samples)
        if data_samples is None:
            data_samples = [WSSSDataSample() for _ in outs]
        for sample, (scores, labels) in zip(data_samples, outs):
            label = scores_to_label(scores[None], labels[None])[0]
            cams = scores[1:] * labels[:, None, None]
            sample.set_data({
                'cams': PixelData(data=cams),
                'pred_sem_seg': PixelData(data=label[None])
            })
            sample.set_metainfo({'bg_cam': scores[0].cpu()})
        return data_samples
