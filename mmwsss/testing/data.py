"""Tiny datasets for tests: a synthetic VOC-style set and a cached coco-mini conversion.

>>> info = make_voc_tiny(tmp_path)            # 4 images, masks, labels, splits
>>> root = coco_mini_converted('voc')         # coco-mini in the VOC layout (cached)
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from mmwsss.datasets.class_names import VOC_CLASSES, voc_colormap
from mmwsss.datasets.converters.coco import (CONVERTER_VERSION, META_FILE, convert_coco,
                                             write_mask_atomic)

COCO_MINI_ENV = 'MMWSSS_COCO_MINI'
COCO_MINI_DEFAULT = '/work/shared/data/coco-mini'

# (segmentation class, (y0, y1, x0, x1)) boxes per synthetic image, drawn in order
# on a 24 x 32 background; fractions of the image size so any size works.
_VOC_TINY_LAYOUT: List[List[tuple]] = [
    [(15, (0.25, 0.75, 0.25, 0.75))],  # person
    [(8, (0.0, 0.5, 0.0, 0.5)), (12, (0.5, 1.0, 0.5, 1.0))],  # cat, dog
    [(1, (0.125, 0.5, 0.0, 1.0))],  # aeroplane
    [(7, (0.5, 1.0, 0.0, 0.5)), (15, (0.0, 0.5, 0.5, 1.0)), (255, (0.0, 0.25, 0.0, 0.25))],
]


def make_voc_tiny(root: str,
                  num_images: int = 4,
                  size: Sequence[int] = (24, 32),
                  seed: int = 0) -> Dict:
    """Write a VOC2012-style toy dataset under ``root``::

        JPEGImages/img_<i>.jpg, SegmentationClass/img_<i>.png (palette PNG),
        ImageSets/Segmentation/train.txt (all ids), val.txt (second half),
        cls_labels.json ({id: [foreground indices]}), cls_labels.npy (psa format).

    Image ``i`` uses layout ``i % 4`` of ``_VOC_TINY_LAYOUT``: axis-aligned boxes of
    VOC classes (image 3 also has an ignore (255) corner), pixels coloured with the
    class's palette colour plus a little noise.

    Returns:
        dict: ``data_root``, ``ids``, ``masks`` ({id: (H, W) uint8}), ``labels``
        ({id: sorted foreground indices}), ``classes``.
    """
    h, w = int(size[0]), int(size[1])
    rng = np.random.RandomState(seed)
    palette = np.asarray(voc_colormap(256), dtype=np.uint8)
    for sub in ('JPEGImages', 'SegmentationClass', osp.join('ImageSets', 'Segmentation')):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    ids, masks, labels = [], {}, {}
    for i in range(num_images):
        name = f'img_{i}'
        seg = np.zeros((h, w), dtype=np.uint8)
        for cls, (y0, y1, x0, x1) in _VOC_TINY_LAYOUT[i % len(_VOC_TINY_LAYOUT)]:
            seg[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)] = cls
        img = palette[seg].astype(np.int16) + rng.randint(-10, 11, size=(h, w, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            osp.join(root, 'JPEGImages', name + '.jpg'), quality=95)
        write_mask_atomic(
            osp.join(root, 'SegmentationClass', name + '.png'), seg, voc_colormap(256))
        present = np.unique(seg)
        labels[name] = sorted(int(c) - 1 for c in present if 0 < c < 255)
        masks[name] = seg
        ids.append(name)
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    with open(osp.join(split_dir, 'train.txt'), 'w') as f:
        f.write(''.join(i + '\n' for i in ids))
    with open(osp.join(split_dir, 'val.txt'), 'w') as f:
        f.write(''.join(i + '\n' for i in ids[num_images // 2:]))
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f)
    num_fg = len(VOC_CLASSES) - 1
    npy = {k: np.bincount(v, minlength=num_fg).astype(np.float32) for k, v in labels.items()}
    np.save(osp.join(root, 'cls_labels.npy'), npy)
    return dict(data_root=root, ids=ids, masks=masks, labels=labels, classes=VOC_CLASSES)


def coco_mini_root() -> Optional[str]:
    """Folder of the raw coco-mini set, or None.

    Looked up in order: ``$MMWSSS_COCO_MINI``, ``<repo>/data/coco-mini`` (the link
    tests/conftest.py makes), ``<repo>/../shared/data/coco-mini`` (CI's layout) and
    the shared copy of the development machines.
    """
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    for root in (os.environ.get(COCO_MINI_ENV, ''), osp.join(repo, 'data', 'coco-mini'),
                 osp.join(repo, '..', 'shared', 'data', 'coco-mini'), COCO_MINI_DEFAULT):
        if root and osp.isfile(osp.join(root, 'annotations', 'instances_train2017.json')):
            return osp.abspath(root)
    return None


def _is_current(root: str) -> bool:
    if not osp.isfile(osp.join(root, '.complete')):
        return False
    with open(osp.join(root, META_FILE), encoding='utf-8') as f:
        return json.load(f).get('converter_version') == CONVERTER_VERSION


def coco_mini_converted(label_space: str = 'voc', cache_dir: Optional[str] = None) -> str:
    """coco-mini converted (train + val, images symlinked) into a cached folder.

    The conversion runs once into a temporary folder that is then renamed into
    ``<cache_dir>/coco-mini-<label_space>`` (default cache dir:
    ``<tmp>/mmwsss_cache``), so concurrent test processes never see a partial
    result; a cache written by another converter version is redone. Returns the
    folder (a ``data_root`` for :class:`WSSSCOCODataset`).
    """
    src = coco_mini_root()
    if src is None:
        raise FileNotFoundError(f'coco-mini not found: set ${COCO_MINI_ENV} '
                                f'(default {COCO_MINI_DEFAULT})')
    cache_dir = cache_dir or osp.join(tempfile.gettempdir(), 'mmwsss_cache')
    target = osp.join(cache_dir, f'coco-mini-{label_space}')
    if _is_current(target):
        return target
    os.makedirs(cache_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix='.coco-mini-', dir=cache_dir)
    try:
        for split in ('train', 'val'):
            convert_coco(
                osp.join(src, 'annotations', f'instances_{split}2017.json'),
                osp.join(src, f'{split}2017'),
                work,
                label_space=label_space,
                link=True,
                log=lambda msg: None)
        open(osp.join(work, '.complete'), 'w').close()
        if osp.isdir(target):  # a copy from an older converter version
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(work, target)
        except OSError:
            if not _is_current(target):  # another process may have won the race
                raise
    finally:
        if osp.isdir(work):
            shutil.rmtree(work, ignore_errors=True)
    return target
