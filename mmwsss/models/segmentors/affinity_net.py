"""AffinityNet (PSA, Ahn & Kwak CVPR'18) training stage as an mmseg segmentor.

Trains a backbone + :class:`AffinityHead` on PSA affinity labels: the data
pipeline loads the combined full-resolution label PNG (written offline by the
``PSAAffinityLabel`` refiner) as ``gt_sem_seg``; the model pools it by 8
(:func:`psa_downsample_label`), extracts the pairs within ``radius`` and
applies the three-term :class:`AffinityLoss`. Inference is the
``AffinityRandomWalk`` refiner, which calls :meth:`AffinityNet.extract_aff_feat`.
"""
import math
from typing import Dict, Tuple

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from mmwsss.models.utils.affinity_labels import crop_pairs, pair_labels, psa_downsample_label
from mmwsss.registry import MODELS
from ..refiners.random_walk import feature_affinity, pair_offsets


def stack_seg_labels(data_samples: SampleList, device) -> Tensor:
    """(B, H, W) long ``gt_sem_seg`` of a batch (already padded to one size)."""
    if not data_samples or not all(hasattr(s, 'gt_sem_seg') for s in data_samples):
        raise KeyError('affinity training needs gt_sem_seg (the affinity label PNGs); '
                       'check LoadAnnotations and seg_map_path in the dataset config')
    return torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long().to(device)


@MODELS.register_module()
class AffinityNet(BaseSegmentor):
    """Backbone + affinity head trained with PSA's pair-affinity loss.

    Args:
        backbone: backbone config (e.g. ``mmseg.ResNetV1c`` with out_indices).
        aff_head: :class:`AffinityHead` config.
        num_classes: number of foreground classes C (labels 1..C).
        loss: loss config (default :class:`AffinityLoss`).
        radius: pair radius on the stride-``label_stride`` map (5).
        label_stride: stride of the affinity map (8, PSA's AvgPool2d(8)).
        data_preprocessor: e.g. ``mmseg.SegDataPreProcessor`` with
            ``size=(448, 448)``, ``seg_pad_val=254`` so that padding votes for
            nothing (PSA's "no score" region).
    """

    def __init__(self,
                 backbone: ConfigType,
                 aff_head: ConfigType,
                 num_classes: int,
                 loss: ConfigType = dict(type='AffinityLoss'),
                 radius: int = 5,
                 label_stride: int = 8,
                 ignore_index: int = 255,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.aff_head = MODELS.build(aff_head)
        self.loss_aff = MODELS.build(loss)
        self.num_classes = num_classes
        self.radius = radius
        self.offsets = pair_offsets(radius)
        self.label_stride = label_stride
        self.ignore_index = ignore_index
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        return self.backbone(inputs)

    def aff_size(self, inputs: Tensor) -> Tuple[int, int]:
        h, w = inputs.shape[-2:]
        return math.ceil(h / self.label_stride), math.ceil(w / self.label_stride)

    def extract_aff_feat(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) normalised images -> (B, D, ceil(H/8), ceil(W/8)) features."""
        return self.aff_head(self.extract_feat(inputs), size=self.aff_size(inputs))

    def encode_decode(self, inputs: Tensor, batch_img_metas=None) -> Tensor:
        return self.extract_aff_feat(inputs)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        return self.extract_aff_feat(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        feats = self.extract_aff_feat(inputs)
        aff = crop_pairs(feature_affinity(feats, self.offsets), self.radius)
        gt = stack_seg_labels(data_samples, inputs.device)
        label = psa_downsample_label(gt, self.num_classes, self.label_stride, self.ignore_index)
        if label.shape[-2:] != feats.shape[-2:]:
            raise ValueError(f'affinity label size {tuple(label.shape[-2:])} does not match '
                             f'the feature size {tuple(feats.shape[-2:])}')
        bg_pos, fg_pos, neg = pair_labels(label, self.offsets, self.radius, self.ignore_index)
        return {
            self.loss_aff.loss_name: self.loss_aff(aff, bg_pos, fg_pos, neg),
            'num_bg_pos': bg_pos.sum().detach(),
            'num_fg_pos': fg_pos.sum().detach(),
            'num_neg': neg.sum().detach()
        }

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """No standalone prediction: labels come from the ``AffinityRandomWalk``
        refiner. Returns the data samples unchanged (so a test loop runs)."""
        return data_samples if data_samples is not None else []
