"""CAM classification head: 1x1 classifier over features, pooled to image logits."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures.img_labels import stack_img_labels
from .poolings import build_pool


@MODELS.register_module()
class CAMHead(BaseDecodeHead):
    """CAM head: ``cam = W * f`` (1x1 conv, no bias); a pooling gives the logits.

    ONE forward returns both ``(logits, cams)``, so the logits a method trains
    on and the CAMs it reads always come from the same pooling.

    Pooling (``pool``): an alias or a config of a registered pooling
    (:mod:`.poolings`):
        ``'gap'``: logits = GAP(cam) = W * GAP(f); IRN, SEAM, PSA.
        ``'gmp'``: logits = W * GMP(f) (max over features first); ToCo, DuPL.
        ``'topk'``: mean of the top-k cam values per class (``topk``).
        ``'lse'``: log-sum-exp pooling, ``dict(type='LSEPool', r=5.0)``.

    Args:
        in_channels: feature channels of the ``in_index`` level.
        num_classes: number of FOREGROUND classes C (no background).
        pool: pooling alias or config.
        topk: k for the ``'topk'`` alias.
        dropout_ratio: Dropout2d before the classifier (SEAM uses 0.5).
        loss_decode: the multi-label loss config.

    Shapes: features (B, in_channels, h, w) -> logits (B, C), cams (B, C, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 pool: Union[str, dict] = 'gap',
                 topk: Union[int, float] = 0.25,
                 dropout_ratio: float = 0.0,
                 in_index: int = -1,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', std=0.01, override=dict(name='conv_seg')),
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            channels=in_channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            in_index=in_index,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            **kwargs)
        # CAM classifiers have no bias (IRN/ToCo): cam = W f exactly.
        self.conv_seg = nn.Conv2d(in_channels, num_classes, kernel_size=1, bias=False)
        self.pool = build_pool(pool, **({'k': topk} if pool == 'topk' else {}))

    def _features(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        feats = self._transform_inputs(inputs) if isinstance(inputs, (list, tuple)) else inputs
        return self.dropout(feats) if self.dropout is not None else feats

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tuple[Tensor, Tensor]:
        """``(logits (B, C), raw cams (B, C, h, w))``; no ReLU (methods differ there)."""
        feats = self._features(inputs)
        cams = self.conv_seg(feats)
        return self.pool(feats, cams, self.conv_seg), cams

    def loss(self, inputs, batch_data_samples, train_cfg=None) -> dict:
        logits, _ = self.forward(inputs)
        return self.loss_by_feat(logits, batch_data_samples)

    def loss_by_feat(self, logits: Tensor, batch_data_samples) -> dict:
        """Multi-label loss on image labels; no pixel labels are read."""
        target = stack_img_labels(batch_data_samples, self.num_classes, logits.device)
        return self.loss_from_labels(logits, target)

    def loss_from_labels(self, logits: Tensor, target: Tensor) -> dict:
        """Multi-label loss of logits (B, C) against multi-hot ``target`` (B, C)."""
        losses = dict()
        losses_decode = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) \
            else [self.loss_decode]
        for loss_decode in losses_decode:
            losses[loss_decode.loss_name] = losses.get(loss_decode.loss_name, 0) + \
                loss_decode(logits, target)
        with torch.no_grad():
            pred = (logits > 0).float()
            losses['acc_cls'] = (pred == target).float().mean() * 100
        return losses

    def predict(self, inputs, batch_img_metas: List[dict], test_cfg) -> Tensor:
        """ReLU'd CAMs resized to the (padded) input size: (B, C, H, W)."""
        cams = F.relu(self.forward(inputs)[1])
        size = batch_img_metas[0].get('pad_shape') or batch_img_metas[0]['img_shape']
        return F.interpolate(cams, size=size[:2], mode='bilinear', align_corners=self.align_corners)
