"""Support for the tool tests (not a test module; tests put this folder on sys.path).

- ``ToyCAMModel``: a CAM model with real weights and no cost, for tools/test.py and
  tools/generate_pseudo_labels.py: its checkpoints can be strict-loaded, mismatched
  or filled with NaN, and a huge scale overflows its CAMs to inf.
- :func:`coco_mini_voc_subset`: a few real coco-mini images, masks and labels.
"""
import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn

from mmwsss.registry import MODELS


@MODELS.register_module(force=True)
class ToyCAMModel(BaseModel):
    """``cams[c] = scale[c] * (grey + 1) / 2`` (grey in [0, 1]) at the original size."""

    def __init__(self, num_classes: int = 20, data_preprocessor=None, init_cfg=None):
        data_preprocessor = data_preprocessor or dict(
            type='mmseg.SegDataPreProcessor', mean=[0, 0, 0], std=[255, 255, 255])
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.scale = nn.Parameter(torch.linspace(0.3, 1.0, num_classes))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        grey = inputs.float().mean(1)
        # (4 * scale) * ((grey + 1) / 8), in [0, 1] for the default scale; a scale above
        # float32 max / 4 overflows to inf (never inf * 0 = NaN), like a diverged
        # checkpoint whose weights are still finite
        cams = (4 * self.scale[None, :, None, None]) * ((grey[:, None] + 1) / 8)
        if mode == 'tensor':
            return cams
        if mode == 'loss':
            return dict(loss=cams.mean())
        for sample, cam in zip(data_samples, cams):
            h, w = sample.ori_shape
            sample.cams = PixelData(data=cam[:, :h, :w])
        return data_samples


def save_checkpoint(path: str, num_classes: int = 20, scale=None) -> str:
    """An mmengine-style checkpoint of ``ToyCAMModel(num_classes)``."""
    state = ToyCAMModel(num_classes).state_dict()
    if scale is not None:
        state['scale'] = torch.full((num_classes, ), float(scale))
    torch.save(dict(state_dict=state, meta=dict(iter=1)), path)
    return path


def coco_mini_voc_subset(root: str, n: int = 3) -> dict:
    """``n`` real coco-mini train images with their VOC-space masks and labels in a
    VOC layout under ``root`` (copied from the cached conversion); skips the test
    when coco-mini is missing. Returns ``data_root``, ``ids``."""
    import json
    import os
    import os.path as osp
    import shutil

    import pytest

    from mmwsss.testing.data import coco_mini_converted, coco_mini_root
    if coco_mini_root() is None:
        pytest.skip('coco-mini not available')
    src = coco_mini_converted('voc')
    ids = open(osp.join(src, 'ImageSets', 'Segmentation', 'train.txt')).read().split()[:n]
    labels = json.load(open(osp.join(src, 'cls_labels.json')))
    for sub in ('JPEGImages', 'SegmentationClass', osp.join('ImageSets', 'Segmentation')):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for i in ids:
        shutil.copy(osp.join(src, 'JPEGImages', i + '.jpg'), osp.join(root, 'JPEGImages'))
        shutil.copy(
            osp.join(src, 'SegmentationClass', i + '.png'), osp.join(root, 'SegmentationClass'))
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 'w') as f:
        f.write(''.join(i + '\n' for i in ids))
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump({i: labels[i] for i in ids}, f)
    return dict(data_root=root, ids=ids, labels={i: labels[i] for i in ids})
