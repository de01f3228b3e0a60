"""Loading transforms that fail loudly, naming the file, on bad input."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmwsss.registry import TRANSFORMS

_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'


@TRANSFORMS.register_module()
class LoadWSSSImageFromFile(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` with explicit errors.

    Raises ``FileNotFoundError`` for a missing file and ``OSError`` for an empty,
    undecodable or truncated one, each naming the file. ``cv2`` decodes a
    truncated JPEG into a partly grey image without an error, so a JPEG whose
    bytes do not end with the end-of-image marker is rejected
    (``check_jpeg_end=False`` turns this off for files with trailing bytes).
    ``ignore_empty=True`` (mmcv's silent skip) is refused.

    Args:
        check_jpeg_end (bool): reject JPEGs without the end-of-image marker.
        **kwargs: arguments of :class:`mmcv.transforms.LoadImageFromFile`.
    """

    def __init__(self, check_jpeg_end: bool = True, **kwargs) -> None:
        if kwargs.get('ignore_empty', False):
            raise ValueError('LoadWSSSImageFromFile does not skip unreadable images '
                             '(ignore_empty=True); fix or remove them from the split')
        if kwargs.get('file_client_args') is not None:
            raise ValueError('file_client_args is deprecated: use backend_args')
        super().__init__(**kwargs)
        self.check_jpeg_end = check_jpeg_end

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'image not found: {filename}') from e
        if not img_bytes:
            raise OSError(f'image file is empty: {filename}')
        if (self.check_jpeg_end and img_bytes[:2] == _JPEG_SOI
                and not img_bytes.rstrip(b'\x00\r\n ').endswith(_JPEG_EOI)):
            raise OSError(f'truncated JPEG (no end-of-image marker): {filename}')
        try:
            img = mmcv.imfrombytes(img_bytes, flag=self.color_type,
                                   backend=self.imdecode_backend)
        except Exception as e:
            raise OSError(f'cannot decode image {filename}: {e}') from e
        if img is None:
            raise OSError(f'cannot decode image (corrupt or not an image): {filename}')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadWSSSAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` plus checks on the loaded map.

    Raises, naming the file, when the map cannot be read, is not single-channel
    (e.g. an RGB colour PNG), has a size different from the image
    (``results['ori_shape']``) or holds a class index outside
    ``[0, num_classes)`` other than ``ignore_index``.

    Args:
        num_classes (int, optional): number of segmentation classes including
            background. Defaults to ``results['num_classes']``, which the
            mmwsss datasets put in every sample; no range check without either.
        ignore_index (int): the ignore value. Defaults to 255.
        **kwargs: arguments of :class:`mmseg.datasets.transforms.LoadAnnotations`.
    """

    def __init__(self, num_classes: Optional[int] = None, ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:
            raise ValueError(f'sample {results.get("img_path")} has no segmentation map '
                             '(seg_map_path is None); drop LoadWSSSAnnotations from this '
                             'pipeline or give the dataset a mask folder')
        try:
            super()._load_seg_map(results)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'segmentation map not found: {path}') from e
        except Exception as e:
            raise OSError(f'cannot read segmentation map {path}: {e}') from e
        seg = results['gt_seg_map']
        if seg.ndim != 2:
            raise ValueError(f'segmentation map {path} must be single-channel class '
                             f'indices (palette or grey PNG), got shape {seg.shape}')
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(seg.shape) != tuple(ori_shape[:2]):
            raise ValueError(f'segmentation map {path} has size {seg.shape} but its image '
                             f'{results.get("img_path")} has size {tuple(ori_shape[:2])}')
        num_classes = self.num_classes or results.get('num_classes')
        if num_classes is not None:
            bad = np.unique(seg[(seg >= num_classes) & (seg != self.ignore_index)])
            if bad.size:
                raise ValueError(f'segmentation map {path} holds class indices '
                                 f'{bad.tolist()} outside [0, {num_classes}) and not '
                                 f'ignore ({self.ignore_index})')
