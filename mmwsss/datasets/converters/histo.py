"""BCSS-WSSS / LUAD-HistoSeg release -> a plain layout that ``WSSSCustomDataset`` reads.

The releases keep the image label in the training file names (``x-[1 0 1 0].png``,
``y+0[1101].png``) and the raw mask index 4 for background (see
:mod:`mmwsss.datasets.histo`, which reads a release directly). This converter writes::

    out_dir/
      images/<split>/<stem>.png      copy (or symlink with ``link=True``); <stem> is the
                                     file name WITHOUT its label string
      masks/<split>/<stem>.png       val/test only: palette PNG in mmwsss indices
                                     (0 background, tissue k -> k + 1, 255 ignore)
      splits/<split>.txt             image paths under images/, one per line
      labels.json                    {"<split>/<stem>.png": [tissue class names]}
      classes.txt                    the tissue classes, one per line
      meta.json                      dataset, classes, normalisation, per-split counts,
                                     {new key: original file name}

so that ``dict(type='WSSSCustomDataset', data_root=out_dir, classes_file='classes.txt',
label_file='labels.json', ann_file='splits/train.txt', img_suffix='.png',
data_prefix=dict(img_path='images', seg_map_path=None))`` reads it.

Checked before anything is written, each error naming the file: a training name without a
well-formed label string (:func:`parse_label_string`), two names of one split that are
equal once the label string is removed, a val/test image without its mask, a mask value
that is neither a raw class, the raw background nor 255. Files are written atomically;
running it again with another split merges ``labels.json`` and ``meta.json``.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

import numpy as np

from mmwsss.utils.io import atomic_write_json, atomic_write_text
from ..histo import (BCSS_WSSS_MEAN, BCSS_WSSS_PALETTE, BCSS_WSSS_STD, LUAD_HISTOSEG_PALETTE,
                     RAW_BACKGROUND, histo_classes, parse_label_string, raw_to_wsss,
                     strip_label_string)
from ..label_io import check_mask, labels_from_mask, read_mask
from .coco import place_image_atomic, write_mask_atomic

PALETTES = {'bcss-wsss': BCSS_WSSS_PALETTE, 'luad-histoseg': LUAD_HISTOSEG_PALETTE}
# the release folders of each split (PBIP's BCSS copy says 'train' and 'valid')
DEFAULT_SPLIT_DIRS = {
    'train': ('training', 'train'),
    'val': ('val', 'valid'),
    'test': ('test', ),
}


def _find_split_dir(src_root: str, split: str) -> str:
    for name in DEFAULT_SPLIT_DIRS.get(split, (split, )):
        if osp.isdir(osp.join(src_root, name)):
            return osp.join(src_root, name)
    raise FileNotFoundError(f'{src_root}: no folder for split {split!r} (looked for '
                            f'{list(DEFAULT_SPLIT_DIRS.get(split, (split, )))})')


def _pngs(folder: str) -> List[str]:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder}')
    return sorted(f for f in os.listdir(folder) if f.lower().endswith('.png'))


def _read_json(path: str) -> dict:
    if not osp.isfile(path):
        return {}
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def convert_histo(src_root: str,
                  out_dir: str,
                  dataset: str = 'bcss-wsss',
                  split: str = 'train',
                  split_dir: Optional[str] = None,
                  link: bool = False,
                  raw_background: int = RAW_BACKGROUND,
                  log: Callable[[str], None] = print) -> dict:
    """Convert one split of a BCSS-WSSS / LUAD-HistoSeg release (see module doc).

    Args:
        src_root: the release root (holding ``training/``, ``val/``, ``test/``).
        out_dir: output root, shared by all splits.
        dataset: ``'bcss-wsss'`` or ``'luad-histoseg'``.
        split: ``'train'`` (labels from names, no masks) or ``'val'`` / ``'test'``
            (``img/`` + ``mask/``; labels from the masks).
        split_dir: the split's folder when it is not one of the default names.
        link: symlink images instead of copying them.
        raw_background: raw mask value of the non-tissue area.

    Returns:
        dict with ``split``, ``num_images``.
    """
    classes = list(histo_classes(dataset))
    num_fg = len(classes) - 1
    folder = split_dir or _find_split_dir(src_root, split)
    has_masks = split != 'train'
    img_dir = osp.join(folder, 'img') if has_masks else folder
    mask_dir = osp.join(folder, 'mask') if has_masks else None
    names = _pngs(img_dir)
    if not names:
        raise ValueError(f'{img_dir}: no .png patches')
    lut = np.full(256, 255, dtype=np.int64)
    for old, new in raw_to_wsss(num_fg, raw_background).items():
        lut[old] = new
    # ---- check everything first
    plan = []
    seen: Dict[str, str] = {}
    for name in names:
        src = osp.join(img_dir, name)
        stem = osp.splitext(name)[0]
        if has_masks:
            new_stem = strip_label_string(stem) if stem.rstrip().endswith(']') else stem
            mask_path = osp.join(mask_dir, name)
            if not osp.isfile(mask_path):
                raise FileNotFoundError(f'{src}: its mask {mask_path} does not exist')
            raw = read_mask(mask_path).astype(np.int64)
            check_mask(raw, mask_path, num_fg + 1, 255)
            seg = lut[raw]
            label = labels_from_mask(seg, num_fg + 1, 255)
        else:
            label = parse_label_string(src, num_fg)
            new_stem, seg = strip_label_string(stem), None
        if new_stem in seen:
            raise ValueError(f'{src} and {seen[new_stem]} have the same name once the label '
                             f'string is removed ({new_stem}); rename one of them')
        seen[new_stem] = src
        plan.append((src, new_stem, seg, label))
    # ---- write
    palette = [list(c) for c in PALETTES[dataset]] + [[0, 0, 0]] * (256 - num_fg - 1)
    os.makedirs(osp.join(out_dir, 'images', split), exist_ok=True)
    if has_masks:
        os.makedirs(osp.join(out_dir, 'masks', split), exist_ok=True)
    labels = _read_json(osp.join(out_dir, 'labels.json'))
    meta = _read_json(osp.join(out_dir, 'meta.json'))
    sources = meta.get('sources', {})
    keys = []
    for i, (src, stem, seg, label) in enumerate(plan):
        key = f'{split}/{stem}.png'
        place_image_atomic(src, osp.join(out_dir, 'images', key), link)
        if seg is not None:
            write_mask_atomic(osp.join(out_dir, 'masks', key), seg.astype(np.uint8), palette)
        labels[key] = [classes[1 + k] for k in np.flatnonzero(label)]
        sources[key] = osp.basename(src)
        keys.append(key)
        if (i + 1) % 1000 == 0 or i + 1 == len(plan):
            log(f'  [{split}] {i + 1}/{len(plan)}')
    os.makedirs(osp.join(out_dir, 'splits'), exist_ok=True)
    atomic_write_text(osp.join(out_dir, 'splits', f'{split}.txt'), ''.join(k + '\n' for k in keys))
    atomic_write_json(osp.join(out_dir, 'labels.json'), labels, indent=0)
    atomic_write_text(osp.join(out_dir, 'classes.txt'), ''.join(c + '\n' for c in classes[1:]))
    counts = dict(meta.get('counts', {}))
    counts[split] = len(keys)
    meta.update(
        dataset=dataset,
        classes=classes,
        # PBIP's BCSS-WSSS statistics; the reference gives none for LUAD-HistoSeg
        mean=list(BCSS_WSSS_MEAN) if dataset == 'bcss-wsss' else None,
        std=list(BCSS_WSSS_STD) if dataset == 'bcss-wsss' else None,
        raw_background=raw_background,
        counts=counts,
        sources=sources)
    atomic_write_json(osp.join(out_dir, 'meta.json'), meta, indent=1)
    return dict(split=split, num_images=len(keys))
