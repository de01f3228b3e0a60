"""Packing of WSSS samples: mmseg's inputs/gt_sem_seg plus the image-level label."""
from typing import Sequence

import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs

from mmwsss.registry import TRANSFORMS
from mmwsss.structures import WSSSDataSample

MMSEG_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label')


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """Pack a sample into ``inputs`` and a :class:`WSSSDataSample`.

    On top of :class:`mmseg.datasets.transforms.PackSegInputs` (image ->
    (3, H, W) tensor, ``gt_seg_map`` -> ``gt_sem_seg`` when present):

    - ``results['gt_img_label']`` (multi-hot ``np.float32`` of shape (C,) over
      the C foreground classes, put there by the WSSS datasets) becomes
      ``data_sample.gt_img_label`` (float tensor of shape (C,));
    - the foreground indices of that label are written to
      ``results['img_labels']`` and packed into the metainfo (``img_labels``
      is in the default ``meta_keys``), so predict paths that only see
      ``batch_img_metas`` can mask CAMs.

    Samples without seg maps (classification stage) simply carry no
    ``gt_sem_seg``. Note that mmseg's ``stack_batch`` then sets the training
    metainfo ``pad_shape`` to None; ``img_shape`` (unpadded size) and
    ``padding_size`` (left, right, top, bottom) stay valid, and the padded size is
    the batch tensor's (H, W).

    Args:
        meta_keys (Sequence[str]): metainfo keys to pack. Defaults to mmseg's
            keys plus ``'img_labels'``.
    """

    def __init__(self, meta_keys: Sequence[str] = MMSEG_META_KEYS + ('img_labels', )) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        label = None
        if results.get('gt_img_label') is not None:
            label = np.asarray(results['gt_img_label'], dtype=np.float32)
            if label.ndim != 1:
                raise ValueError(f'gt_img_label of {results.get("img_path")} must be a 1-D '
                                 f'multi-hot vector, got shape {label.shape}')
            results['img_labels'] = np.flatnonzero(label > 0).tolist()
        packed = super().transform(results)
        seg_sample = packed['data_samples']
        sample = WSSSDataSample(metainfo=seg_sample.metainfo)
        # copy mmseg's pixel fields (gt_sem_seg, gt_edge_map, ...) onto the WSSS sample
        for key in seg_sample.keys():
            setattr(sample, key, getattr(seg_sample, key))
        if label is not None:
            sample.gt_img_label = torch.from_numpy(label.copy())
        packed['data_samples'] = sample
        return packed
