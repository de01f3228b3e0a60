"""mmseg's EncoderDecoder that hands the pseudo label's per-pixel confidence to its losses.

Why a segmentor and not a head, a sampler or a label encoding: an mmseg decode head
computes its loss in ``loss_by_feat`` from the stacked ``gt_sem_seg`` only and calls
``loss_decode(seg_logits, seg_label, weight=seg_weight, ignore_index=...)``; no other
data-sample field reaches it. A head subclass would be needed for every head type; a
pixel sampler (the ``weight`` route) is called with the logits and the label only;
packing the confidence into the label tensor would break the heads' accuracy and
every other loss. The segmentor is the one place that holds the data samples and
wraps every head: for the duration of ``super().loss`` it hands the batch's
confidence (B, H, W), stacked and padded exactly as mmseg pads the label, to every
:class:`ConfidenceWeightedLoss` among its modules (decode and auxiliary heads, lists
of losses included) and takes it back afterwards. Any mmseg head whose
``loss_by_feat`` resizes its logits to the full label (all the standard ones) works
unchanged; inference is plain EncoderDecoder.
"""
from contextlib import ExitStack
from typing import List

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor

from mmwsss.registry import MODELS
from ..losses.confidence_weighted_loss import ConfidenceWeightedLoss

__all__ = ['stack_confidence', 'ConfidenceEncoderDecoder']


def stack_confidence(data_samples: List, key: str = 'gt_conf_mask') -> Tensor:
    """(B, H, W) float confidence of a batch, padded as mmseg pads ``gt_sem_seg``.

    mmseg's data preprocessor pads the labels at the bottom and right (value 255) to
    the batch size but leaves other pixel fields as they are; the confidence is padded
    the same way here (value 0: those pixels are ignore anyway), so pixel (y, x) of the
    confidence is pixel (y, x) of the label.

    Args:
        data_samples: samples with ``gt_sem_seg`` (1, H, W) and ``<key>`` (1, h, w),
            ``h <= H``, ``w <= W``.
        key: the data-sample field (``PackWSSSMaps(maps=('gt_conf_mask',))``).
    """
    maps = []
    for i, sample in enumerate(data_samples):
        if key not in sample:
            raise KeyError(f'data sample {i} ({sample.metainfo.get("img_path")}) has no {key!r}: '
                           'load it with mmwsss.LoadConfidenceMask(binarize=False) and pack it '
                           f"with mmwsss.PackWSSSMaps(maps=('{key}',))")
        conf = getattr(sample, key).data.float()
        height, width = sample.gt_sem_seg.data.shape[-2:]
        h, w = conf.shape[-2:]
        if h > height or w > width:
            raise ValueError(f'{key} of sample {i} is {h}x{w}, larger than its label '
                             f'{height}x{width}: the pipeline transformed them differently')
        maps.append(F.pad(conf, (0, width - w, 0, height - h), value=0.0)[0])
    return torch.stack(maps, 0)


@MODELS.register_module()
class ConfidenceEncoderDecoder(EncoderDecoder):
    """EncoderDecoder whose :class:`ConfidenceWeightedLoss` modules see the confidence.

    Args:
        conf_key: data-sample field holding the (1, H, W) 0-255 confidence.
        **kwargs: :class:`mmseg.models.segmentors.EncoderDecoder`'s arguments.
    """

    def __init__(self, conf_key: str = 'gt_conf_mask', **kwargs) -> None:
        super().__init__(**kwargs)
        self.conf_key = conf_key
        if not any(isinstance(m, ConfidenceWeightedLoss) for m in self.modules()):
            raise ValueError('ConfidenceEncoderDecoder has no mmwsss.ConfidenceWeightedLoss in '
                             'its heads: set decode_head.loss_decode to one')

    def loss(self, inputs: Tensor, data_samples: List) -> dict:
        conf = stack_confidence(data_samples, self.conf_key).to(inputs.device)
        with ExitStack() as stack:
            for module in self.modules():
                if isinstance(module, ConfidenceWeightedLoss):
                    stack.enter_context(module.use_confidence(conf))
            return super().loss(inputs, data_samples)
