"""Base class of the mmwsss datasets: mmseg's BaseSegDataset plus image-level labels."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets import BaseSegDataset

from .label_io import (EIGHT_BIT_MODES, check_mask, image_size, labels_from_mask, load_label_file,
                       mask_mode, read_mask, read_split_file)

_SHOW = 10  # how many offending names an error message lists


def _listing(items: Sequence[str]) -> str:
    more = f' ... and {len(items) - _SHOW} more' if len(items) > _SHOW else ''
    return ', '.join(map(str, items[:_SHOW])) + more


class WSSSBaseDataset(BaseSegDataset):
    """A :class:`BaseSegDataset` whose samples carry an image-level label.

    Every ``data_info`` holds ``img_path``, ``seg_map_path`` (None without a
    mask folder), ``gt_img_label`` (multi-hot ``np.float32`` (C,) over the C
    foreground classes; C = ``len(classes) - 1``, ``classes[0]`` is
    ``'background'``) and ``num_classes`` (``len(classes)``, read by
    :class:`LoadWSSSAnnotations` to range-check masks).

    Image labels come from ``label_file`` (see :mod:`mmwsss.datasets.label_io`
    for the formats) or, without one, from the masks (the classes present,
    ignoring 0 and ``ignore_index``). Masks are optional and only needed for
    evaluation. ``data_prefix['seg_map_path']`` set to None or ``''`` means no
    masks.

    Checked when the dataset is built, each error naming the file(s): a split
    entry without an image, a missing mask (when a mask folder is given), an
    image missing from the label file, an unknown class in the label file.
    Masks read to derive labels (or all masks with ``check_masks=True``) are
    also checked for size and class range; otherwise that happens when they
    are loaded (:class:`LoadWSSSAnnotations`). Every mask header is read: a
    16/32-bit mask is checked value by value when the dataset is built, because
    mmseg's ``LoadAnnotations`` casts it to uint8 and would score 270 as 14.
    Nothing is skipped.

    ``metainfo['img_root']`` is the image folder: tools and metrics name the
    outputs of an image by its path relative to it (``a/01`` and ``b/01`` for
    ``a/01.jpg`` and ``b/01.jpg``), see :func:`mmwsss.utils.io.output_key`.

    Args:
        label_file (str, optional): image-label file, relative to ``data_root``
            unless absolute.
        check_masks (bool): read every mask when building the dataset to check
            its size and class range. Defaults to False.
        require_masks (bool): error when no mask folder is given.
        with_img_labels (bool): attach ``gt_img_label``; False for datasets
            that only need pixels (pseudo labels). Defaults to True.
        **kwargs: arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """

    MASK_KIND = 'segmentation map'  # how errors name the seg maps

    def __init__(self,
                 ann_file: str = '',
                 label_file: Optional[str] = None,
                 check_masks: bool = False,
                 require_masks: bool = False,
                 with_img_labels: bool = True,
                 **kwargs) -> None:
        if kwargs.get('reduce_zero_label', False):
            raise ValueError(f'{type(self).__name__}: reduce_zero_label is not supported, '
                             'index 0 is background in WSSS label maps')
        self.label_file = label_file
        self.check_masks = check_masks
        self.require_masks = require_masks
        self.with_img_labels = with_img_labels
        super().__init__(ann_file=ann_file, **kwargs)
        # outputs (pseudo labels, --out PNGs) are keyed by the path under this folder
        self._metainfo['img_root'] = self.img_dir

    # -- metainfo -----------------------------------------------------------------------
    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> None:
        # Image labels are indexed by the full class list, so class subsets (mmseg's
        # label_map remapping) are refused in __init__ of the fixed-class datasets.
        return None

    @classmethod
    def check_classes(cls, classes: Sequence[str], expected: Sequence[str]) -> None:
        """Refuse a ``metainfo.classes`` that is not exactly the dataset's classes."""
        if list(classes) != list(expected):
            raise ValueError(f'{cls.__name__} has the fixed classes {list(expected)}; got '
                             f'{list(classes)} (class subsets/reorderings are not supported '
                             'because image labels index the full class list)')

    @property
    def num_classes(self) -> int:
        return len(self._metainfo['classes'])

    # -- paths ----------------------------------------------------------------------------
    def _join_prefix(self) -> None:
        # '' / None for seg_map_path means "no masks" (mmengine only accepts str)
        if not self.data_prefix.get('seg_map_path'):
            self.data_prefix.pop('seg_map_path', None)
        super()._join_prefix()
        if self.label_file and self.data_root and not osp.isabs(self.label_file):
            self.label_file = osp.join(self.data_root, self.label_file)

    @property
    def img_dir(self) -> str:
        return self.data_prefix.get('img_path', '') or ''

    @property
    def mask_dir(self) -> Optional[str]:
        return self.data_prefix.get('seg_map_path') or None

    def list_samples(self) -> List[Tuple[str, str, Optional[str]]]:
        """(label key, image path, mask path or None) of every sample, in order.

        Default: VOC style ids from ``ann_file`` (one id per line, no suffix) or,
        without it, every ``img_suffix`` file under the image folder.
        """
        if self.ann_file:
            ids = read_split_file(self.ann_file)
        else:
            if not osp.isdir(self.img_dir):
                raise FileNotFoundError(f'image folder not found: {self.img_dir}')
            n = len(self.img_suffix)
            ids = sorted(f[:-n] if n else f for f in fileio.list_dir_or_file(
                self.img_dir, list_dir=False, suffix=self.img_suffix, recursive=True))
        mask_dir = self.mask_dir
        return [(i, osp.join(self.img_dir, i + self.img_suffix),
                 osp.join(mask_dir, i + self.seg_map_suffix) if mask_dir else None) for i in ids]

    # -- loading ----------------------------------------------------------------------------
    def load_labels(self) -> Optional[Dict[str, np.ndarray]]:
        """``{label key: multi-hot}`` from ``label_file``, or None without one."""
        if not self.label_file:
            return None
        return load_label_file(self.label_file, self._metainfo['classes'])

    def load_data_list(self) -> List[dict]:
        samples = self.list_samples()
        where = self.ann_file or self.img_dir
        if not samples:
            raise ValueError(f'{type(self).__name__}: no samples found in {where}')
        missing = [img for _, img, _ in samples if not osp.isfile(img)]
        if missing:
            raise FileNotFoundError(f'{len(missing)} image(s) listed in {where} do not exist: '
                                    f'{_listing(missing)}')
        if self.require_masks and self.mask_dir is None:
            raise ValueError(f'{type(self).__name__} needs data_prefix.seg_map_path')
        if self.mask_dir is not None:
            missing = [m for _, _, m in samples if not osp.isfile(m)]
            if missing:
                raise FileNotFoundError(f'{len(missing)} {self.MASK_KIND}(s) for {where} do '
                                        f'not exist in {self.mask_dir}: {_listing(missing)}')
        labels = self.load_labels() if self.with_img_labels else None
        if self.with_img_labels and labels is None and self.mask_dir is None:
            raise ValueError(f'{type(self).__name__}: no image labels: give label_file or a '
                             'mask folder (data_prefix.seg_map_path) to derive them from')
        if labels is not None:
            missing = [k for k, _, _ in samples if k not in labels]
            if missing:
                raise KeyError(f'{len(missing)} image(s) of {where} have no entry in '
                               f'{self.label_file}: {_listing(missing)}')
        derive = self.with_img_labels and labels is None
        num_classes = self.num_classes
        data_list = []
        for key, img_path, seg_path in samples:
            info = dict(
                img_path=img_path,
                seg_map_path=seg_path,
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[],
                num_classes=num_classes)
            full_check = derive or self.check_masks
            if seg_path is not None and not full_check:
                # the header is cheap; only masks wider than 8 bits are decoded here
                full_check = mask_mode(seg_path) not in EIGHT_BIT_MODES
            if seg_path is not None and full_check:
                seg = read_mask(seg_path)
                check_mask(seg, seg_path, num_classes, self.ignore_index, image_size(img_path))
                if derive:
                    info['gt_img_label'] = labels_from_mask(seg, num_classes, self.ignore_index)
            if labels is not None:
                info['gt_img_label'] = labels[key]
            data_list.append(info)
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """Foreground indices of sample ``idx`` (for class-aware samplers)."""
        label = self.get_data_info(idx).get('gt_img_label')
        return [] if label is None else np.flatnonzero(label).tolist()
