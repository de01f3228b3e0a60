"""CAM classification head: 1x1 classifier over features, pooled to image logits."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from mmwsss.registry import MODELS

POOLINGS = ('gap', 'gmp', 'topk')


def stack_img_labels(data_samples: Sequence, num_classes: int,
                     device: Union[str, torch.device] = 'cpu') -> Tensor:
    """(B, C) multi-hot image labels from data samples.

    Reads ``gt_img_label`` and falls back to metainfo ``img_labels`` (indices).
    """
    rows = []
    for i, sample in enumerate(data_samples):
        if 'gt_img_label' in sample:
            row = sample.gt_img_label.float()
        elif 'img_labels' in sample.metainfo:
            row = torch.zeros(num_classes)
            idx = torch.as_tensor(sample.metainfo['img_labels'], dtype=torch.long)
            if idx.numel() and (idx.min() < 0 or idx.max() >= num_classes):
                raise ValueError(f'image label index out of range 0..{num_classes - 1} '
                                 f'in {sample.metainfo.get("img_path", f"sample {i}")}')
            row[idx] = 1
        else:
            raise KeyError('data sample has neither gt_img_label nor metainfo '
                           f'img_labels: {sample.metainfo.get("img_path", i)}')
        if row.numel() != num_classes:
            raise ValueError(f'image label of length {row.numel()} but the head has '
                             f'{num_classes} classes ({sample.metainfo.get("img_path", i)})')
        rows.append(row.to(device))
    return torch.stack(rows, 0)


@MODELS.register_module()
class CAMHead(BaseDecodeHead):
    """CAM head: ``cam = W * f`` (1x1 conv, no bias); logits pool it per class.

    Pooling (``pool``):
        ``'gap'``: logits = W * GAP(f) (= GAP(cam)); IRN, SEAM, PSA.
        ``'gmp'``: logits = W * GMP(f) (max over features first); ToCo, DuPL.
        ``'topk'``: logits = mean of the top-k cam values per class, k = ``topk``
            (an int, or a float ratio of the h*w positions).

    Args:
        in_channels: feature channels of ``in_index`` level.
        num_classes: number of FOREGROUND classes C (no background).
        pool: pooling, one of ``POOLINGS``.
        topk: k for top-k pooling.
        dropout_ratio: Dropout2d before the classifier (SEAM uses 0.5).
        loss_decode: the multi-label loss config.

    Shapes: features (B, in_channels, h, w) -> cams (B, C, h, w), logits (B, C).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 pool: str = 'gap',
                 topk: Union[int, float] = 0.25,
                 dropout_ratio: float = 0.0,
                 in_index: int = -1,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(type='Normal', std=0.01,
                                                 override=dict(name='conv_seg')),
                 **kwargs) -> None:
        if pool not in POOLINGS:
            raise ValueError(f"pool must be one of {POOLINGS}, got '{pool}'")
        super().__init__(
            in_channels=in_channels, channels=in_channels, num_classes=num_classes,
            dropout_ratio=dropout_ratio, in_index=in_index, loss_decode=loss_decode,
            init_cfg=init_cfg, **kwargs)
        # CAM classifiers have no bias (IRN/ToCo): cam = W f exactly.
        self.conv_seg = nn.Conv2d(in_channels, num_classes, kernel_size=1, bias=False)
        self.pool = pool
        self.topk = topk

    def _features(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        feats = self._transform_inputs(inputs) if isinstance(inputs, (list, tuple)) else inputs
        return self.dropout(feats) if self.dropout is not None else feats

    def forward_cam(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Raw class activation maps (B, C, h, w), no ReLU (methods differ there)."""
        return self.conv_seg(self._features(inputs))

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Image-level logits (B, C)."""
        feats = self._features(inputs)
        if self.pool == 'gap':
            pooled = F.adaptive_avg_pool2d(feats, 1)
            return self.conv_seg(pooled).flatten(1)
        if self.pool == 'gmp':
            pooled = F.adaptive_max_pool2d(feats, 1)
            return self.conv_seg(pooled).flatten(1)
        cams = self.conv_seg(feats).flatten(2)
        hw = cams.shape[-1]
        k = self.topk if isinstance(self.topk, int) else max(1, int(round(self.topk * hw)))
        return cams.topk(min(k, hw), dim=-1)[0].mean(-1)

    def forward_both(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tuple[Tensor, Tensor]:
        """(logits (B, C), cams (B, C, h, w)) from one feature pass."""
        feats = self._features(inputs)
        cams = self.conv_seg(feats)
        if self.pool == 'gap':
            logits = cams.mean((2, 3))
        elif self.pool == 'gmp':
            logits = self.conv_seg(F.adaptive_max_pool2d(feats, 1)).flatten(1)
        else:
            flat = cams.flatten(2)
            k = self.topk if isinstance(self.topk, int) else \
                max(1, int(round(self.topk * flat.shape[-1])))
            logits = flat.topk(min(k, flat.shape[-1]), dim=-1)[0].mean(-1)
        return logits, cams

    def loss(self, inputs, batch_data_samples, train_cfg=None) -> dict:
        logits = self.forward(inputs)
        return self.loss_by_feat(logits, batch_data_samples)

    def loss_by_feat(self, logits: Tensor, batch_data_samples) -> dict:
        """Multi-label loss on image labels; no pixel labels are read."""
        target = stack_img_labels(batch_data_samples, self.num_classes, logits.device)
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
        cams = F.relu(self.forward_cam(inputs))
        size = batch_img_metas[0].get('pad_shape') or batch_img_metas[0]['img_shape']
        return F.interpolate(cams, size=size[:2], mode='bilinear',
                             align_corners=self.align_corners)
