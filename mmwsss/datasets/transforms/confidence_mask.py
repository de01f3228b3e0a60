"""Stage-2 pipeline pieces for labels that come with a per-pixel confidence mask (BECO).

* :class:`LoadConfidenceMask` reads ``<label_dir>/<mask_dir>/<key>.png`` (written by
  tools/generate_pseudo_labels.py with ``pseudo_label_cfg.extra_maps``) into
  ``results['gt_conf_mask']`` and registers it in ``seg_fields``, so mmseg's geometric
  transforms (resize, crop, flip) treat it like the label (nearest resize);
* :class:`RandomResizedCropSeg` is BECO's ``RandomResizedCropMask``: torchvision's
  random-resized-crop box, the image resized bilinearly and every seg field with
  nearest neighbour to a fixed size (never padded);
* :class:`PackWSSSMaps` is :class:`PackWSSSInputs` plus extra pixel fields
  (``data_sample.gt_conf_mask``).
"""
import os.path as osp
from typing import Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.structures import PixelData

from mmwsss.registry import TRANSFORMS
from .formatting import MMSEG_META_KEYS, PackWSSSInputs
from .views import random_resized_crop_params

__all__ = ['LoadConfidenceMask', 'RandomResizedCropSeg', 'PackWSSSMaps']


@TRANSFORMS.register_module()
class LoadConfidenceMask(BaseTransform):
    """Load a binary confidence mask (or a 0-255 confidence map) next to the pseudo label.

    The mask of the label ``<label_dir>/<key>.png`` (``results['seg_map_path']``) is
    ``<label_dir>/<mask_dir>/<key>.png`` (``mask_dir`` relative) or
    ``<mask_dir>/<key>.png`` (absolute). Values > 0 are confident (1), 0 is not:
    PNGs with 0/1 (ours) and 0/255 (the official ``torchvision.save_image``) both load.
    With ``binarize=False`` the values are kept as they are (the uint8 confidence maps
    of :class:`mmwsss.models.refiners.LabelConfidence`).

    Required keys: seg_map_path, ori_shape (checked). Added: ``key``, in seg_fields.

    Args:
        label_dir: the pseudo-label folder (the dataset's ``pseudo_label_dir``);
            None: the folder of each ``seg_map_path`` (flat keys only).
        mask_dir: folder of the masks, relative to ``label_dir`` or absolute.
        key: the results key (and data-sample field after packing).
        binarize: map values > 0 to 1 (BECO's masks); False keeps 0-255.
    """

    def __init__(self,
                 label_dir: Optional[str] = None,
                 mask_dir: str = 'conf_mask',
                 key: str = 'gt_conf_mask',
                 binarize: bool = True) -> None:
        self.binarize = binarize
        self.label_dir = osp.abspath(label_dir) if label_dir is not None else None
        self.mask_dir = mask_dir
        self.key = key

    def mask_path(self, seg_map_path: str) -> str:
        seg_map_path = osp.abspath(seg_map_path)
        root = self.label_dir or osp.dirname(seg_map_path)
        rel = osp.relpath(seg_map_path, root)
        if rel.startswith('..'):
            raise ValueError(f'label {seg_map_path} is not under label_dir {root}')
        base = self.mask_dir if osp.isabs(self.mask_dir) else osp.join(root, self.mask_dir)
        return osp.join(base, rel)

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is None:
            raise ValueError(f'sample {results.get("img_path")} has no seg_map_path: '
                             'LoadConfidenceMask needs the pseudo-label dataset')
        path = self.mask_path(results['seg_map_path'])
        try:
            raw = fileio.get(path)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'confidence mask not found: {path} (write it with '
                                    'pseudo_label_cfg.extra_maps)') from e
        mask = mmcv.imfrombytes(raw, flag='unchanged')
        if mask is None or mask.squeeze().ndim != 2:
            raise ValueError(f'confidence mask {path} must be a single-channel PNG')
        mask = mask.squeeze()
        ori = results.get('ori_shape')
        if ori is not None and tuple(mask.shape) != tuple(ori[:2]):
            raise ValueError(f'confidence mask {path} is {mask.shape}, its image is '
                             f'{tuple(ori[:2])}')
        if not self.binarize and mask.dtype != np.uint8:  # a cast would wrap 16-bit values
            raise ValueError(f'confidence map {path} must be an 8-bit PNG, got {mask.dtype}')
        results[self.key] = (mask > 0).astype(np.uint8) if self.binarize else mask
        fields = results.setdefault('seg_fields', [])
        if self.key not in fields:
            fields.append(self.key)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(label_dir={self.label_dir!r}, '
                f'mask_dir={self.mask_dir!r}, key={self.key!r}, binarize={self.binarize})')


@TRANSFORMS.register_module()
class RandomResizedCropSeg(BaseTransform):
    """BECO's ``RandomResizedCropMask``: a random-resized crop of the image and seg maps.

    The box is torchvision's (:func:`random_resized_crop_params`: area fraction
    ~ U(scale), log-uniform aspect ratio in ``ratio``, 10 tries, centre fallback). The
    image crop is resized to ``size`` bilinearly (PIL, as torchvision on PIL images),
    every key in ``seg_fields`` with nearest neighbour; nothing is padded.

    BECO's config passes ``scale=[0.5, 0.75, 1, 1.5, 1.75, 2.0]`` (a list meant for
    rescaling), of which torchvision reads only the first two numbers: the crop area is
    50-75% of the image. Give ``scale=(0.5, 0.75)`` to match it.

    Args:
        size: output (h, w) or int.
        scale: crop-area range (fraction of the image area).
        ratio: aspect-ratio range (w / h).
    """

    def __init__(
        self,
        size: Union[int, Sequence[int]] = 512,
        scale: Sequence[float] = (0.5, 0.75),
        ratio: Sequence[float] = (3 / 4, 4 / 3)
    ) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f'scale must be (min, max) with 0 < min <= max, got {scale}')

    def transform(self, results: dict) -> dict:
        img = results['img']
        h0, w0 = img.shape[:2]
        top, left, h, w = random_resized_crop_params(h0, w0, self.scale, self.ratio)
        out_h, out_w = self.size
        crop = np.ascontiguousarray(img[top:top + h, left:left + w])
        results['img'] = mmcv.imresize(
            crop, (out_w, out_h), interpolation='bilinear', backend='pillow')
        for key in results.get('seg_fields', []):
            seg = np.ascontiguousarray(results[key][top:top + h, left:left + w])
            results[key] = mmcv.imresize(
                seg, (out_w, out_h), interpolation='nearest', backend='pillow')
        results['img_shape'] = (out_h, out_w)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio})')


@TRANSFORMS.register_module()
class PackWSSSMaps(PackWSSSInputs):
    """:class:`PackWSSSInputs` plus extra (H, W) maps as data-sample pixel fields.

    Args:
        maps: results keys packed as ``data_sample.<key>`` = ``PixelData(data=(1, H, W))``
            (int64 tensors). A missing key is an error.
        meta_keys: as :class:`PackWSSSInputs`.
    """

    def __init__(
        self,
        maps: Sequence[str] = ('gt_conf_mask', ),
        meta_keys: Sequence[str] = MMSEG_META_KEYS + ('img_labels', )
    ) -> None:
        super().__init__(meta_keys=meta_keys)
        self.maps = tuple(maps)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        for key in self.maps:
            if key not in results:
                raise KeyError(f'PackWSSSMaps: {results.get("img_path")} has no {key!r}')
            data = torch.from_numpy(np.ascontiguousarray(results[key]).astype(np.int64))
            packed['data_samples'].set_field(PixelData(data=data[None]), key)
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(maps={self.maps}, meta_keys={self.meta_keys})'
