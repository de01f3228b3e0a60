"""Pipeline pieces for per-image SAM segment index maps (S2C's "se" maps).

The maps are written offline by ``tools/s2c_segment_everything.py`` as
``<segments_dir>/<image stem>.npy`` int arrays in [-1, N - 1] (-1 = no SAM mask;
``mmwsss.models.foundation.s2c_sam.segments_to_index_map``). In the training pipeline:

* :class:`LoadSAMSegments` reads the map + 1 (so 0 = no mask, the index the SSC loss
  ignores) into ``gt_seg_map``: mmcv's Resize / RandomFlip / mmseg's RandomCrop / Pad only
  transform ``gt_seg_map`` (nearest resize), and S2C's classification stage has no other
  pixel map there;
* :class:`RemapSAMSegments` is the official ``searchsorted`` relabelling to contiguous
  indices, after resize + flip and before the crop (``voc12/data.py::apply_tf_se``);
* :class:`MoveSAMSegments` moves the map to ``gt_sam_segments`` once the geometry is
  done, so ``PackWSSSMaps(maps=('gt_sam_segments', ))`` packs it as its own field and no
  ``gt_sem_seg`` exists in training.

mmcv's pillow resize (the official PIL bicubic image resize, :class:`RandomResizeLong`)
takes uint8 maps only, and the official code casts the map to uint8 (wrapping beyond 254
masks). Here the map travels as three uint8 byte planes (H, W, 3) through the geometric
transforms (nearest resize samples the three planes at the same pixels, crop / flip /
pad move them together; padding 0 stays 0) and is decoded by the two later transforms;
``uint8_wrap=True`` is the official single uint8 plane.
"""
import os.path as osp

import numpy as np
from mmcv.transforms import BaseTransform

from mmwsss.registry import TRANSFORMS

__all__ = ['LoadSAMSegments', 'RemapSAMSegments', 'MoveSAMSegments', 'encode_bytes', 'decode_bytes']


def encode_bytes(index: np.ndarray) -> np.ndarray:
    """(H, W) int in [0, 2^24) -> (H, W, 3) uint8 byte planes (low byte first)."""
    index = np.asarray(index, np.int64)
    if index.min(initial=0) < 0 or index.max(initial=0) >= 1 << 24:
        raise ValueError('segment indices must be in [0, 2^24)')
    return np.stack([(index >> (8 * k)) & 255 for k in range(3)], -1).astype(np.uint8)


def decode_bytes(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_bytes`; an (H, W) map is returned as int64 unchanged."""
    planes = np.asarray(planes)
    if planes.ndim == 2:
        return planes.astype(np.int64)
    planes = planes.astype(np.int64)
    return planes[..., 0] | (planes[..., 1] << 8) | (planes[..., 2] << 16)


@TRANSFORMS.register_module()
class LoadSAMSegments(BaseTransform):
    """Load ``<segments_dir>/<stem of img_path>.npy`` (+ 1) into ``gt_seg_map``.

    Args:
        segments_dir: folder of the index maps.
        uint8_wrap: the official loader's ``(se + 1).astype(np.uint8)``, which wraps
            images with more than 254 masks (index 255 -> 0 = ignored, 256 -> 1, ...);
            False (default) keeps int32.

    Raises ``FileNotFoundError`` naming the file and the tool that writes it, and
    ``ValueError`` when the map's size is not the image's.
    """

    def __init__(self, segments_dir: str, uint8_wrap: bool = False) -> None:
        self.segments_dir = segments_dir
        self.uint8_wrap = uint8_wrap

    def path(self, img_path: str) -> str:
        return osp.join(self.segments_dir, osp.splitext(osp.basename(img_path))[0] + '.npy')

    def transform(self, results: dict) -> dict:
        path = self.path(results['img_path'])
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'SAM segment map not found: {path} (write the maps first: python3 '
                'tools/s2c_segment_everything.py CONFIG)')
        se = np.load(path, allow_pickle=False) + 1
        if se.shape != tuple(results['ori_shape'][:2]):
            raise ValueError(f'{path}: segment map {se.shape} != image {results["ori_shape"]}')
        results['gt_seg_map'] = se.astype(np.uint8) if self.uint8_wrap else encode_bytes(se)
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(segments_dir={self.segments_dir!r}, '
                f'uint8_wrap={self.uint8_wrap})')


@TRANSFORMS.register_module()
class RemapSAMSegments(BaseTransform):
    """Relabel ``gt_seg_map`` to 0..K-1 by rank of its present values.

    ``np.searchsorted(np.unique(se), se)``. Official quirk kept as is: the SMALLEST
    present value becomes 0, the ignore index, so when every pixel is covered by a mask
    (no 0 in the map), one real segment is ignored.
    """

    def transform(self, results: dict) -> dict:
        se = decode_bytes(results['gt_seg_map'])
        remapped = np.searchsorted(np.unique(se), se)
        results['gt_seg_map'] = remapped.astype(np.uint8) if results['gt_seg_map'].ndim == 2 \
            else encode_bytes(remapped)
        return results


@TRANSFORMS.register_module()
class MoveSAMSegments(BaseTransform):
    """``results['gt_sam_segments'] = decode(results.pop('gt_seg_map'))``, (H, W) int64."""

    def transform(self, results: dict) -> dict:
        results['gt_sam_segments'] = decode_bytes(results.pop('gt_seg_map'))
        if 'gt_seg_map' in results.get('seg_fields', []):
            results['seg_fields'].remove('gt_seg_map')
        return results
