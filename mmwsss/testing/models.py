"""Small model configs and inputs for unit tests (random weights)."""
from typing import List, Sequence, Tuple

import torch

from mmwsss.structures import WSSSDataSample


def tiny_backbone_cfg(out_indices: Sequence[int] = (3, )) -> dict:
    """A ResNet-18-shaped mmseg backbone with few channels (random init)."""
    return dict(
        type='mmseg.ResNetV1c',
        depth=18,
        base_channels=8,
        stem_channels=8,
        num_stages=4,
        out_indices=tuple(out_indices),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True))


TINY_CHANNELS = (8, 16, 32, 64)  # channels per stage of tiny_backbone_cfg


def demo_wsss_inputs(batch: int = 2,
                     num_classes: int = 3,
                     size: Tuple[int, int] = (32, 32),
                     seed: int = 0) -> Tuple[torch.Tensor, List[WSSSDataSample]]:
    """Random images (B, 3, H, W) and data samples with image labels.

    Sample i is labelled with classes {i % C} (and (i + 1) % C when C > 1).
    """
    g = torch.Generator().manual_seed(seed)
    inputs = torch.rand(batch, 3, *size, generator=g) * 255
    samples = []
    for i in range(batch):
        label = torch.zeros(num_classes)
        idx = sorted({i % num_classes, (i + 1) % num_classes})
        label[idx] = 1
        s = WSSSDataSample(
            metainfo=dict(
                img_shape=size,
                ori_shape=size,
                pad_shape=size,
                img_labels=idx,
                img_path=f'demo_{i}.jpg'))
        s.gt_img_label = label
        samples.append(s)
    return inputs, samples
