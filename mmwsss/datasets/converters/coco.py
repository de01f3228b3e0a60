"""COCO instances JSON -> VOC-style WSSS layout.

Output layout (``out_dir``)::

    JPEGImages/<stem>.jpg                 copy (or symlink with ``link=True``)
    SegmentationClass/<stem>.png          palette PNG, uint8 class indices
    ImageSets/Segmentation/<split>.txt    stems of the images kept in the split
    ImageSets/Segmentation/<split>_unlabelled.txt
                                          stems left out: no class of the label space
    cls_labels.json                       {stem: [foreground indices]}, all splits
    meta.json                             label space, classes, per-split counts

Drawing rules (documented choice):

* Only annotations whose category belongs to the label space are drawn; the
  other COCO categories are background (0) in the ``'voc'`` space.
* Crowd annotations (``iscrowd=1``) are drawn **first**, as ignore (255), so
  that individually annotated objects inside a crowd keep their class.
* Non-crowd instances are drawn in decreasing ``area`` order (ties by
  annotation id), so smaller objects stay on top of larger ones.
* The image-level label of an image is the set of label-space categories of its
  annotations (crowd included). On coco-mini this equals the set of classes
  visible in the mask for every image.
* Images with no annotation in the label space cannot train a CAM classifier:
  they are left out of ``<split>.txt`` (nothing is written for them), counted
  in the report and listed in ``<split>_unlabelled.txt``; ``keep_unlabelled``
  keeps them (e.g. to evaluate on every val image).

Every file is written to a temporary name in its target folder and renamed, so
an interrupted run never leaves a half-written file behind. Running the
converter again with another split into the same ``out_dir`` merges
``cls_labels.json`` and ``meta.json``.
"""
import contextlib
import io
import json
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Callable, Dict, List, Optional

import numpy as np
from PIL import Image

from ..class_names import COCO_CLASSES, COCO_TO_VOC, VOC_CLASSES, voc_colormap

META_FILE = 'meta.json'
LABEL_FILE = 'cls_labels.json'
IMG_DIR = 'JPEGImages'
MASK_DIR = 'SegmentationClass'
SPLIT_DIR = osp.join('ImageSets', 'Segmentation')
IGNORE_INDEX = 255
# bump when the output changes, so cached conversions (mmwsss.testing.data) are redone
CONVERTER_VERSION = 1
_UMASK = os.umask(0)
os.umask(_UMASK)


def split_from_ann_file(ann_file: str) -> str:
    """``instances_train2017.json`` -> ``'train'``; ``instances_val2014.json`` -> ``'val'``."""
    stem = osp.splitext(osp.basename(ann_file))[0]
    stem = re.sub(r'^instances_', '', stem)
    split = re.sub(r'\d+$', '', stem)
    return split or stem


def category_to_index(categories: List[dict], label_space: str) -> Dict[int, int]:
    """Map COCO category id -> segmentation index in ``label_space`` (0 = not drawn)."""
    mapping = {}
    for cat in categories:
        name = cat['name']
        if label_space == 'voc':
            mapping[cat['id']] = VOC_CLASSES.index(COCO_TO_VOC[name]) if name in COCO_TO_VOC else 0
        elif label_space == 'coco':
            if name not in COCO_CLASSES:
                raise ValueError(f'category {name!r} (id {cat["id"]}) is not one of the 80 COCO '
                                 'classes; the coco label space cannot hold it')
            mapping[cat['id']] = COCO_CLASSES.index(name)
        else:
            raise ValueError(f"label_space must be 'voc' or 'coco', got {label_space!r}")
    return mapping


def rasterize(anns: List[dict], height: int, width: int, cat_to_idx: Dict[int, int],
              ann_to_mask: Callable[[dict], np.ndarray]) -> np.ndarray:
    """Draw the annotations of one image into a (H, W) uint8 class-index map.

    Crowd regions first (255), then instances by decreasing area (see module doc).
    """
    seg = np.zeros((height, width), dtype=np.uint8)
    kept = [a for a in anns if cat_to_idx.get(a['category_id'], 0) > 0]
    for ann in kept:
        if ann.get('iscrowd', 0):
            seg[ann_to_mask(ann) > 0] = IGNORE_INDEX
    instances = sorted((a for a in kept if not a.get('iscrowd', 0)),
                       key=lambda a: (-float(a.get('area', 0.0)), a.get('id', 0)))
    for ann in instances:
        seg[ann_to_mask(ann) > 0] = cat_to_idx[ann['category_id']]
    return seg


def image_labels(anns: List[dict], cat_to_idx: Dict[int, int]) -> List[int]:
    """Sorted foreground indices (segmentation index - 1) of the label-space annotations."""
    idx = {cat_to_idx.get(a['category_id'], 0) for a in anns}
    return sorted(i - 1 for i in idx if i > 0)


def _tmp_path(path: str) -> str:
    # '.tmp' suffix: a file left by a killed run never matches an image/mask suffix
    fd, tmp = tempfile.mkstemp(prefix='.', suffix='.tmp', dir=osp.dirname(path))
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600 files
    return tmp


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    tmp = _tmp_path(path)
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    _replace(tmp, path)


def write_json_atomic(path: str, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True) + '\n')


def write_mask_atomic(path: str, seg: np.ndarray, palette: List[List[int]]) -> None:
    """Save a (H, W) uint8 map as a palette ('P' mode) PNG.

    ``putpalette`` turns the 'L' image into 'P' keeping the indices (a 'P' image
    without palette may get its indices remapped when saved by Pillow 13).
    """
    img = Image.fromarray(np.ascontiguousarray(seg, dtype=np.uint8))  # 'L'
    img.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())
    tmp = _tmp_path(path)
    img.save(tmp, format='PNG')
    _replace(tmp, path)


def _labels_json(labels: Dict[str, List[int]]) -> str:
    """One ``"stem": [indices]`` entry per line (valid JSON, diff-friendly)."""
    lines = [f'{json.dumps(k)}: {json.dumps(labels[k])}' for k in sorted(labels)]
    return '{\n' + ',\n'.join(lines) + '\n}\n' if lines else '{}\n'


def place_image_atomic(src: str, dst: str, link: bool) -> None:
    """Copy ``src`` to ``dst`` (or symlink to its absolute path)."""
    tmp = _tmp_path(dst)
    if link:
        os.remove(tmp)
        os.symlink(osp.abspath(src), tmp)
    else:
        shutil.copyfile(src, tmp)
    _replace(tmp, dst)


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path} is not valid JSON: {e}') from e


def convert_coco(ann_file: str,
                 img_dir: str,
                 out_dir: str,
                 label_space: str = 'voc',
                 split: Optional[str] = None,
                 link: bool = False,
                 keep_unlabelled: bool = False,
                 log: Callable[[str], None] = print) -> dict:
    """Convert one COCO instances JSON into the VOC-style layout (see module doc).

    Returns:
        dict: ``split``, ``num_images`` (in the split list), ``num_unlabelled``,
        ``unlabelled`` (stems), ``num_total`` (images in the JSON).
    """
    from pycocotools.coco import COCO  # only the converter needs pycocotools

    if label_space not in ('voc', 'coco'):
        raise ValueError(f"label_space must be 'voc' or 'coco', got {label_space!r}")
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image directory not found: {img_dir}')
    split = split or split_from_ann_file(ann_file)
    classes = VOC_CLASSES if label_space == 'voc' else COCO_CLASSES
    palette = voc_colormap(256)

    meta_path = osp.join(out_dir, META_FILE)
    meta = _load_json(meta_path) if osp.isfile(meta_path) else {}
    if meta and meta.get('label_space') != label_space:
        raise ValueError(f'{out_dir} already holds the {meta.get("label_space")!r} label space '
                         f'({meta_path}); convert the {label_space!r} space into another folder')

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints timings
        coco = COCO(ann_file)
    cat_to_idx = category_to_index(coco.loadCats(coco.getCatIds()), label_space)
    images = sorted(coco.loadImgs(coco.getImgIds()), key=lambda im: im['file_name'])
    missing = [im['file_name'] for im in images
               if not osp.isfile(osp.join(img_dir, im['file_name']))]
    if missing:
        raise FileNotFoundError(f'{len(missing)} image(s) of {ann_file} are missing from '
                                f'{img_dir}: {missing[:10]}')

    for sub in (IMG_DIR, MASK_DIR, SPLIT_DIR):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    label_path = osp.join(out_dir, LABEL_FILE)
    all_labels = _load_json(label_path) if osp.isfile(label_path) else {}

    log(f'converting {len(images)} images of {ann_file} -> {out_dir} '
        f'(split {split!r}, label space {label_space!r})')
    kept, unlabelled = [], []
    step = max(1, len(images) // 10)
    for i, info in enumerate(images):
        stem = osp.splitext(info['file_name'])[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=info['id'], iscrowd=None))
        labels = image_labels(anns, cat_to_idx)
        if not labels and not keep_unlabelled:
            unlabelled.append(stem)
        else:
            old = all_labels.get(stem)
            if old is not None and list(old) != labels:
                raise ValueError(f'image {stem} is already in {label_path} with labels {old}, '
                                 f'but {ann_file} gives {labels}')
            seg = rasterize(anns, info['height'], info['width'], cat_to_idx, coco.annToMask)
            place_image_atomic(osp.join(img_dir, info['file_name']),
                               osp.join(out_dir, IMG_DIR, stem + '.jpg'), link)
            write_mask_atomic(osp.join(out_dir, MASK_DIR, stem + '.png'), seg, palette)
            all_labels[stem] = labels
            kept.append(stem)
        if (i + 1) % step == 0 or i + 1 == len(images):
            log(f'  [{split}] {i + 1}/{len(images)}')

    write_text_atomic(osp.join(out_dir, SPLIT_DIR, split + '.txt'),
                      ''.join(s + '\n' for s in kept))
    write_text_atomic(osp.join(out_dir, SPLIT_DIR, split + '_unlabelled.txt'),
                      ''.join(s + '\n' for s in unlabelled))
    write_text_atomic(label_path, _labels_json(all_labels))
    meta.update(label_space=label_space, classes=list(classes), label_file=LABEL_FILE,
                converter_version=CONVERTER_VERSION,
                label_format='{stem: [foreground indices]}, index k = class k + 1')
    meta.setdefault('splits', {})[split] = dict(
        ann_file=osp.abspath(ann_file), num_images=len(kept), num_unlabelled=len(unlabelled),
        keep_unlabelled=keep_unlabelled)
    write_json_atomic(meta_path, meta)
    if unlabelled:
        log(f'  {len(unlabelled)} image(s) have no {label_space!r} class and were left out of '
            f'{split}.txt; listed in {osp.join(SPLIT_DIR, split + "_unlabelled.txt")}')
    log(f'  {split}: {len(kept)} images written')
    return dict(split=split, num_images=len(kept), num_unlabelled=len(unlabelled),
                unlabelled=unlabelled, num_total=len(images))
