"""IRN (Ahn, Cho & Kwak CVPR'19) training stage as an mmseg segmentor.

A (frozen, detached) backbone feeds :class:`IRNHead`; the class-boundary map
gives path affinities within ``radius`` (10 in training) that are trained on
IR labels (written offline by the ``IRLabel`` refiner, loaded as
``gt_sem_seg`` and nearest-downsampled by 4); the displacement field is
trained with the same pairs. Inference is the ``IRNRandomWalk`` refiner, which
calls :meth:`IRN.predict_boundary`.
"""
from typing import Dict, Tuple

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from mmwsss.models.utils.affinity_labels import crop_pairs, nearest_downsample_label, pair_labels
from mmwsss.registry import MODELS
from ..refiners.random_walk import boundary_affinity, pair_offsets
from ..utils.freeze import freeze
from .affinity_net import stack_seg_labels


def pair_displacement(disp: Tensor, offsets, radius: int) -> Tensor:
    """dp(i) - dp(j) for the cropped sources i and j = i + offset (IRN's
    ``to_pair_displacement``).

    Args:
        disp: (B, 2, h, w) displacement field.
    Returns:
        (B, 2, K, h - r + 1, w - 2r + 2).
    """
    rf = radius - 1
    src = crop_pairs(disp, radius)
    ch, cw = src.shape[-2:]
    dst = torch.stack([disp[:, :, dy:dy + ch, rf + dx:rf + dx + cw] for dy, dx in offsets], 2)
    return src[:, :, None] - dst


@MODELS.register_module()
class IRN(BaseSegmentor):
    """Inter-pixel Relation Network: boundary + displacement heads.

    Args:
        backbone: backbone config; IRN uses an ImageNet ResNet-50 with strides
            (2, 2, 2, 1) and frozen BN. Its features are detached by the head.
        irn_head: :class:`IRNHead` config.
        loss: :class:`AffinityDisplacementLoss` config.
        radius: path radius in training (10).
        label_stride: stride of the boundary map (4).
        freeze_backbone: keep the backbone in eval mode and without gradients
            (IRN trains only the heads).
    """

    def __init__(self,
                 backbone: ConfigType,
                 irn_head: ConfigType,
                 loss: ConfigType = dict(type='AffinityDisplacementLoss'),
                 radius: int = 10,
                 label_stride: int = 4,
                 ignore_index: int = 255,
                 freeze_backbone: bool = True,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.irn_head = MODELS.build(irn_head)
        self.loss_irn = MODELS.build(loss)
        self.radius = radius
        self.offsets = pair_offsets(radius)
        # (1, 2, K, 1, 1): dp(i) - dp(j) should equal j - i = (dy, dx)
        target = torch.tensor(self.offsets, dtype=torch.float32).t()
        self.register_buffer('disp_target', target[None, :, :, None, None], persistent=False)
        self.label_stride = label_stride
        self.ignore_index = ignore_index
        self.freeze_backbone = freeze_backbone
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if freeze_backbone:
            freeze(self.backbone, eval_mode=False)

    def train(self, mode: bool = True) -> 'IRN':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        if self.freeze_backbone:
            with torch.no_grad():
                return self.backbone(inputs)
        return self.backbone(inputs)

    def predict_boundary(self, inputs: Tensor) -> Tensor:
        """(B, 1, h, w) boundary logits at stride 4 (no flip merge here)."""
        return self.irn_head.forward_edge(self.extract_feat(inputs))

    def encode_decode(self, inputs: Tensor, batch_img_metas=None) -> Tensor:
        return torch.sigmoid(self.predict_boundary(inputs))

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        return self.irn_head(self.extract_feat(inputs))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        edge, disp = self.irn_head(self.extract_feat(inputs))
        gt = stack_seg_labels(data_samples, inputs.device)
        label = nearest_downsample_label(gt, self.label_stride, size=edge.shape[-2:])
        bg_pos, fg_pos, neg = pair_labels(label, self.offsets, self.radius, self.ignore_index)
        aff = crop_pairs(boundary_affinity(torch.sigmoid(edge), self.radius), self.radius)
        pair_disp = None
        if disp is not None:
            pair_disp = pair_displacement(disp, self.offsets, self.radius)
        return self.loss_irn(aff, bg_pos, fg_pos, neg, pair_disp, self.disp_target)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """No standalone prediction: labels come from the ``IRNRandomWalk``
        refiner. Returns the data samples unchanged (so a test loop runs)."""
        return data_samples if data_samples is not None else []
