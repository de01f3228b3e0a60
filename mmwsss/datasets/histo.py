"""Histopathology WSSS patches: BCSS-WSSS and LUAD-HistoSeg as released.

Both releases (Han et al., WSSS-Tissue; PBIP reads BCSS-WSSS the same way) put the
image-level label of a TRAINING patch in its file name, as a bracketed 0/1 string
with one digit per tissue class, in class order::

    LUAD-HistoSeg   1031280-2300-27920-[1 0 0 1].png      spaced digits
    BCSS-WSSS       TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500+0[1101].png   compact

Both forms are read (:func:`parse_label_string`). Only the validation and test splits
have pixel masks (``<split>/img`` + ``<split>/mask``, same file names, palette PNGs
whose index is the tissue class in the same order and ``4`` for the background /
non-tissue area). Layout::

    data_root/
      training/<name>-[1 0 1 0].png       (PBIP's copy names this folder 'train')
      val/img/<name>.png   val/mask/<name>.png    (BCSS-WSSS: 'valid')
      test/img/<name>.png  test/mask/<name>.png

In mmwsss index 0 is background, so the raw mask values are remapped when a mask is
read: tissue ``k`` -> ``k + 1``, raw ``4`` -> ``0`` (:data:`RAW_TO_WSSS`, applied by
:class:`LoadWSSSAnnotations` through ``label_map``); ``255`` stays ignore. The image
label of a masked patch comes from its (remapped) mask unless its name carries a label
string (``label_source``).

A malformed label string (no ``[...]`` at the end of the name, a wrong number of
digits, a digit other than 0/1) is an error naming the file.
"""
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .label_io import LabelFileError, check_mask, labels_from_mask, read_mask

# Tissue classes in label-string / raw-mask order, behind mmwsss's background.
BCSS_WSSS_CLASSES: Tuple[str, ...] = ('background', 'TUM', 'STR', 'LYM', 'NEC')
LUAD_HISTOSEG_CLASSES: Tuple[str, ...] = ('background', 'TE', 'NEC', 'LYM', 'TAS')
# The official palettes (raw index order TUM/TE, STR/NEC, LYM, NEC/TAS, background)
# reordered to mmwsss indices (background first).
BCSS_WSSS_PALETTE = [[255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [153, 0, 255]]
# LUAD-HistoSeg colours: WSSS-Tissue's [unverified here; cosmetic only]
LUAD_HISTOSEG_PALETTE = [[255, 255, 255], [205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 165, 0]]
# Input statistics of PBIP's BCSS-WSSS loader, on [0, 1] images (reference §9).
BCSS_WSSS_MEAN = (0.668, 0.478, 0.706)
BCSS_WSSS_STD = (0.174, 0.226, 0.198)

RAW_BACKGROUND = 4  # the raw mask value of the non-tissue area in both releases


def raw_to_wsss(num_fg: int, raw_background: int = RAW_BACKGROUND) -> Dict[int, int]:
    """Raw mask value -> mmwsss index: tissue k -> k + 1, ``raw_background`` -> 0."""
    mapping = {k: k + 1 for k in range(num_fg)}
    mapping[raw_background] = 0
    return mapping


RAW_TO_WSSS = raw_to_wsss(4)

_LABEL_TAIL = re.compile(r'\[([^\[\]]*)\]$')


def parse_label_string(path: str, num_fg: int) -> np.ndarray:
    """Image label (C,) float32 from a file name ending in ``[1 0 1 0]`` or ``[1010]``.

    Args:
        path: the file path or name; only the name without extension is read.
        num_fg: C, the number of tissue classes (digits expected).

    Returns:
        multi-hot np.float32 of length ``num_fg``.

    Raises:
        LabelFileError naming ``path``: no bracketed label at the end of the name, a
        wrong number of digits, or a character that is not 0/1 (separators: spaces or
        commas between digits).
    """
    stem = osp.splitext(osp.basename(path))[0]
    match = _LABEL_TAIL.search(stem.rstrip())
    if match is None:
        raise LabelFileError(f'{path}: the file name does not end with an image-label '
                             f'string in brackets such as "[1 0 1 0]" or "[1010]" '
                             f'({num_fg} digits, one per tissue class)')
    body = match.group(1).strip()
    # '1 0 1 0', '1,0,1,0' and '1010' are all one digit per class
    digits = re.sub(r'[\s,]+', '', body)
    if not digits or not set(digits) <= {'0', '1'}:
        bad = sorted(set(digits) - {'0', '1'}) or ['(empty)']
        raise LabelFileError(f'{path}: image-label string [{match.group(1)}] must hold only '
                             f'0/1 digits, found {bad}')
    if len(digits) != num_fg:
        raise LabelFileError(f'{path}: image-label string [{match.group(1)}] has '
                             f'{len(digits)} digits, expected {num_fg} (one per tissue class)')
    return np.array([float(d) for d in digits], dtype=np.float32)


def strip_label_string(stem: str) -> str:
    """``'a-[1 0 1 0]'`` -> ``'a'``; ``'b+0[1101]'`` -> ``'b+0'`` (trailing '-'/'_' dropped)."""
    out = _LABEL_TAIL.sub('', stem.rstrip())
    return out.rstrip('-_ ') or out


@DATASETS.register_module()
class WSSSHistoDataset(WSSSBaseDataset):
    """Histology patches with labels in file names (training) or masks (val/test).

    Args:
        data_prefix: ``img_path`` (e.g. ``'training'`` or ``'val/img'``) and
            ``seg_map_path`` (None for training, ``'val/mask'`` for val).
        label_source: ``'name'`` (parse every file name), ``'mask'`` (classes present
            in the remapped mask, background excluded) or ``'auto'``: names when
            there is no mask folder, masks otherwise.
        raw_background: raw mask value of the non-tissue area (4 in both releases).
        img_suffix: patch suffix (``'.png'``).
        **kwargs: see :class:`WSSSBaseDataset`; ``metainfo.classes`` must be the
            subclass's classes.
    """
    METAINFO = dict(classes=BCSS_WSSS_CLASSES, palette=BCSS_WSSS_PALETTE)

    def __init__(self,
                 ann_file: str = '',
                 label_source: str = 'auto',
                 raw_background: int = RAW_BACKGROUND,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='training', seg_map_path=None),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if label_source not in ('auto', 'name', 'mask'):
            raise ValueError(f"label_source must be 'auto', 'name' or 'mask', got "
                             f'{label_source!r}')
        if metainfo and 'classes' in metainfo:
            self.check_classes(metainfo['classes'], self.METAINFO['classes'])
        self.label_source = label_source
        self.raw_background = int(raw_background)
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            metainfo=metainfo,
            **kwargs)

    @property
    def label_map_raw(self) -> Dict[int, int]:
        return raw_to_wsss(self.num_classes - 1, self.raw_background)

    def _source(self) -> str:
        if self.label_source != 'auto':
            return self.label_source
        return 'name' if self.mask_dir is None else 'mask'

    def load_labels(self) -> Optional[Dict[str, np.ndarray]]:
        num_fg = self.num_classes - 1
        samples = self.list_samples()
        if self._source() == 'name':
            return {key: parse_label_string(img, num_fg) for key, img, _ in samples}
        if self.mask_dir is None:
            raise ValueError(f"{type(self).__name__}: label_source='mask' needs "
                             'data_prefix.seg_map_path')
        lut = np.full(256, self.ignore_index, dtype=np.int64)
        for old, new in self.label_map_raw.items():
            lut[old] = new
        out = {}
        for key, _, mask in samples:
            if mask is None or not osp.isfile(mask):
                continue  # reported by load_data_list, naming every missing mask
            raw = read_mask(mask).astype(np.int64)
            # raw values outside 0..C and 255 are errors (checked before remapping)
            check_mask(raw, mask, self.num_classes, self.ignore_index)
            out[key] = labels_from_mask(lut[raw], self.num_classes, self.ignore_index)
        return out

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        mapping = self.label_map_raw
        for info in data_list:
            if info['seg_map_path'] is not None:
                # LoadWSSSAnnotations applies it to every mask it reads
                info['label_map'] = dict(mapping)
        return data_list


@DATASETS.register_module()
class BCSSWSSSDataset(WSSSHistoDataset):
    """BCSS-WSSS (TUM, STR, LYM, NEC + background); compact ``[1101]`` label strings.

    Example::

        dict(type='BCSSWSSSDataset', data_root='data/BCSS-WSSS',
             data_prefix=dict(img_path='training', seg_map_path=None))
        dict(type='BCSSWSSSDataset', data_root='data/BCSS-WSSS',
             data_prefix=dict(img_path='val/img', seg_map_path='val/mask'))
    """
    METAINFO = dict(classes=BCSS_WSSS_CLASSES, palette=BCSS_WSSS_PALETTE)


@DATASETS.register_module()
class LUADHistoSegDataset(WSSSHistoDataset):
    """LUAD-HistoSeg (TE, NEC, LYM, TAS + background); spaced ``[1 0 0 1]`` strings."""
    METAINFO = dict(classes=LUAD_HISTOSEG_CLASSES, palette=LUAD_HISTOSEG_PALETTE)


def histo_classes(name: str) -> Sequence[str]:
    """Classes (background first) of ``'bcss-wsss'`` or ``'luad-histoseg'``."""
    table = {'bcss-wsss': BCSS_WSSS_CLASSES, 'luad-histoseg': LUAD_HISTOSEG_CLASSES}
    if name not in table:
        raise ValueError(f'unknown histology dataset {name!r}; known: {sorted(table)}')
    return table[name]
