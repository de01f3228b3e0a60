"""Loading transforms that fail loudly, naming the file, on bad input."""
import os
import sys
import tempfile
import warnings
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmwsss.registry import TRANSFORMS

_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'
# what libjpeg(-turbo) prints for data it had to invent or skip; the decoded image
# is then partly grey (premature end) or shifted (extraneous bytes)
_LIBJPEG_WARNINGS = (b'Corrupt JPEG data', b'Premature end of JPEG file',
                     b'Invalid JPEG file structure', b'Warning: unknown JFIF revision')


class CorruptImageError(OSError):
    """An image that cannot be decoded as it is stored (named in the message)."""


class _Stderr:
    """Collects what C code writes to file descriptor 2 during a ``with`` block.

    libjpeg reports corrupt data only as a line on stderr (no file name, no
    exception); redirecting the descriptor is the one way to see it from Python.
    Text that is not a libjpeg warning is written back to the real stderr.
    One temporary file per process, reused.
    """
    _file = None
    _pid = None

    def __enter__(self) -> '_Stderr':
        if _Stderr._file is None or _Stderr._pid != os.getpid():
            _Stderr._file, _Stderr._pid = tempfile.TemporaryFile(), os.getpid()
        self.file = _Stderr._file
        self.file.seek(0)
        self.file.truncate()
        sys.stderr.flush()
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc) -> None:
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read()
        self.warnings = [ln for ln in self.text.splitlines() if ln.startswith(_LIBJPEG_WARNINGS)]
        other = b'\n'.join(ln for ln in self.text.splitlines()
                           if not ln.startswith(_LIBJPEG_WARNINGS))
        if other.strip():
            os.write(2, other + b'\n')


def decode_image(img_bytes: bytes,
                 path: str,
                 flag: str = 'color',
                 channel_order: str = 'bgr',
                 backend: Optional[str] = None,
                 check_jpeg_end: bool = True,
                 corrupt_jpeg: str = 'error') -> np.ndarray:
    """``mmcv.imfrombytes`` that refuses damaged files, naming ``path``.

    Refused (``CorruptImageError``): empty bytes, undecodable data, a JPEG whose
    bytes do not end with the end-of-image marker (``check_jpeg_end``), and a JPEG
    for which libjpeg reports corrupt data (e.g. a truncated file with the end
    marker re-appended, which decodes half grey). ``corrupt_jpeg='warn'`` turns
    the last one into a ``UserWarning`` naming the file. The libjpeg check needs
    the cv2 decoder; with another ``backend`` the JPEG is checked by an extra cv2
    decode.
    """
    if corrupt_jpeg not in ('error', 'warn'):
        raise ValueError(f"corrupt_jpeg must be 'error' or 'warn', got {corrupt_jpeg!r}")
    if not img_bytes:
        raise CorruptImageError(f'image file is empty: {path}')
    is_jpeg = img_bytes[:2] == _JPEG_SOI
    if (check_jpeg_end and is_jpeg and not img_bytes.rstrip(b'\x00\r\n ').endswith(_JPEG_EOI)):
        raise CorruptImageError(f'truncated JPEG (no end-of-image marker): {path}')
    # backend None = mmcv's global choice (cv2 unless use_backend() changed it)
    cv2_backend = (backend or getattr(mmcv.image.io, 'imread_backend', 'cv2')) == 'cv2'
    stderr = None
    try:
        if is_jpeg:
            with _Stderr() as stderr:
                if cv2_backend:
                    img = mmcv.imfrombytes(
                        img_bytes, flag=flag, channel_order=channel_order, backend='cv2')
                else:
                    mmcv.imfrombytes(img_bytes, flag='color', backend='cv2')
            if not cv2_backend:
                img = mmcv.imfrombytes(
                    img_bytes, flag=flag, channel_order=channel_order, backend=backend)
        else:
            img = mmcv.imfrombytes(
                img_bytes, flag=flag, channel_order=channel_order, backend=backend)
    except Exception as e:
        raise CorruptImageError(f'cannot decode image {path}: {e}') from e
    if img is None:
        raise CorruptImageError(f'cannot decode image (corrupt or not an image): {path}')
    if stderr is not None and stderr.warnings:
        said = '; '.join(w.decode('utf-8', 'replace') for w in stderr.warnings)
        msg = f'corrupt JPEG {path}: libjpeg says "{said}" (the decoded image is damaged)'
        if corrupt_jpeg == 'error':
            raise CorruptImageError(msg)
        warnings.warn(msg)
    return img


@TRANSFORMS.register_module()
class LoadWSSSImageFromFile(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` with explicit errors.

    Raises ``FileNotFoundError`` for a missing file and ``OSError`` for an empty,
    undecodable or truncated one, each naming the file. ``cv2`` decodes a
    truncated JPEG into a partly grey image without an error, so a JPEG whose
    bytes do not end with the end-of-image marker is rejected
    (``check_jpeg_end=False`` turns this off for files with trailing bytes), and
    so is one for which libjpeg reports corrupt data (see :func:`decode_image`).
    ``ignore_empty=True`` (mmcv's silent skip) is refused.

    Args:
        check_jpeg_end (bool): reject JPEGs without the end-of-image marker.
        corrupt_jpeg (str): ``'error'`` (default) or ``'warn'`` for JPEGs that
            libjpeg reports as corrupt.
        **kwargs: arguments of :class:`mmcv.transforms.LoadImageFromFile`.
    """

    def __init__(self, check_jpeg_end: bool = True, corrupt_jpeg: str = 'error', **kwargs) -> None:
        if kwargs.get('ignore_empty', False):
            raise ValueError('LoadWSSSImageFromFile does not skip unreadable images '
                             '(ignore_empty=True); fix or remove them from the split')
        if kwargs.get('file_client_args') is not None:
            raise ValueError('file_client_args is deprecated: use backend_args')
        if corrupt_jpeg not in ('error', 'warn'):
            raise ValueError(f"corrupt_jpeg must be 'error' or 'warn', got {corrupt_jpeg!r}")
        super().__init__(**kwargs)
        self.check_jpeg_end = check_jpeg_end
        self.corrupt_jpeg = corrupt_jpeg

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'image not found: {filename}') from e
        img = decode_image(
            img_bytes,
            filename,
            flag=self.color_type,
            backend=self.imdecode_backend,
            check_jpeg_end=self.check_jpeg_end,
            corrupt_jpeg=self.corrupt_jpeg)
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

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
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
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'segmentation map not found: {path}') from e
        try:
            seg = mmcv.imfrombytes(img_bytes, flag='unchanged', backend=self.imdecode_backend)
        except Exception as e:
            raise OSError(f'cannot read segmentation map {path}: {e}') from e
        if seg is None:
            raise OSError(f'cannot read segmentation map {path}: not an image')
        seg = seg.squeeze()
        if seg.ndim != 2:
            raise ValueError(f'segmentation map {path} must be single-channel class '
                             f'indices (palette or grey PNG), got shape {seg.shape}')
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(seg.shape) != tuple(ori_shape[:2]):
            raise ValueError(f'segmentation map {path} has size {seg.shape} but its image '
                             f'{results.get("img_path")} has size {tuple(ori_shape[:2])}')
        # checked before the uint8 cast: mmseg's cast turns a 16-bit 270 into 14
        if not np.issubdtype(seg.dtype, np.integer):
            raise ValueError(f'segmentation map {path} holds {seg.dtype} values; expected '
                             'integer class indices')
        num_classes = self.num_classes or results.get('num_classes')
        if num_classes is not None:
            bad = np.unique(seg[((seg >= num_classes) | (seg < 0)) & (seg != self.ignore_index)])
            if bad.size:
                raise ValueError(f'segmentation map {path} holds class indices '
                                 f'{bad.tolist()[:10]} outside [0, {num_classes}) and not '
                                 f'ignore ({self.ignore_index})')
        elif seg.dtype != np.uint8 and (seg.min() < 0 or seg.max() > 255):
            bad = np.unique(seg[(seg < 0) | (seg > 255)])
            raise ValueError(f'segmentation map {path} ({seg.dtype}) holds values '
                             f'{bad.tolist()[:10]} that uint8 cannot hold')
        seg = seg.astype(np.uint8)
        # the rest is mmseg's LoadAnnotations._load_seg_map, unchanged
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results['reduce_zero_label']
        if self.reduce_zero_label != results['reduce_zero_label']:
            raise ValueError(f'the dataset has reduce_zero_label={results["reduce_zero_label"]}'
                             f' but LoadWSSSAnnotations has {self.reduce_zero_label}')
        if self.reduce_zero_label:
            seg[seg == 0] = 255
            seg = seg - 1
            seg[seg == 254] = 255
        if results.get('label_map', None) is not None:
            # remap from a copy so that chained ids (1->2, 2->3) are not applied twice
            orig = seg.copy()
            for old_id, new_id in results['label_map'].items():
                seg[orig == old_id] = new_id
        results['gt_seg_map'] = seg
        results['seg_fields'].append('gt_seg_map')
