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

Checked before anything is written, each error naming the JSON and the image or
annotation id: the file must be a COCO instances JSON (valid JSON with
``images``, ``annotations`` and ``categories`` lists); ids must be unique; every
annotation needs an existing image, a ``category_id`` listed in ``categories``
and a ``segmentation``; an image's ``height``/``width`` must be those of its
file; an RLE's ``size`` must be its image's. A polygon with fewer than 3 points
cannot be drawn: it is dropped with a warning that counts and lists the
annotation ids (also in ``meta.json``), like the unlabelled images; the class
of its annotation stays in the image labels. A split in which no image has a
class of the label space is an error, not an empty split.

Every file is written to a temporary name (``.<name>.<id>.tmp``) in its target
folder, fsynced and renamed, so an interrupted run never leaves a half-written
file behind; outputs get the umask's permissions. Running the converter again
with another split into the same ``out_dir`` merges ``cls_labels.json`` and
``meta.json``.
"""
import json
import os
import os.path as osp
import re
import shutil
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from mmwsss.utils.io import atomic_write, atomic_write_text, temp_path_for
from ..class_names import COCO_CLASSES, COCO_TO_VOC, VOC_CLASSES, voc_colormap

META_FILE = 'meta.json'
LABEL_FILE = 'cls_labels.json'
IMG_DIR = 'JPEGImages'
MASK_DIR = 'SegmentationClass'
SPLIT_DIR = osp.join('ImageSets', 'Segmentation')
IGNORE_INDEX = 255
# bump when the output changes, so cached conversions (mmwsss.testing.data) are redone
CONVERTER_VERSION = 2


class COCOFormatError(ValueError):
    """The annotation JSON is not a usable COCO instances file (named in the message)."""


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


# --------------------------------------------------------------------------- reading
def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def load_coco_json(ann_file: str) -> dict:
    """Parse and check a COCO instances JSON (see module doc); errors name the file."""
    try:
        with open(ann_file, encoding='utf-8-sig') as f:
            data = json.load(f)
    except UnicodeDecodeError as e:
        raise COCOFormatError(f'{ann_file} is not UTF-8 text: {e}') from None
    except json.JSONDecodeError as e:
        raise COCOFormatError(f'{ann_file} is not valid JSON: {e}') from None
    if not isinstance(data, dict):
        raise COCOFormatError(f'{ann_file}: expected a COCO instances JSON object, got a '
                              f'JSON {type(data).__name__}')
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            # without 'annotations' every image would be "unlabelled": an empty split
            raise COCOFormatError(f'{ann_file} has no {key!r} list (keys: {sorted(data)}); '
                                  'is it a COCO instances file?')
        if not isinstance(data[key], list):
            raise COCOFormatError(f'{ann_file}: {key!r} must be a list, got '
                                  f'{type(data[key]).__name__}')
    images: Dict[int, dict] = {}
    stems: Dict[str, int] = {}
    for i, im in enumerate(data['images']):
        if not isinstance(im, dict) or not _is_int(im.get('id')):
            raise COCOFormatError(f'{ann_file}: images[{i}] has no integer id')
        where = f'{ann_file}: image id {im["id"]}'
        if im['id'] in images:
            raise COCOFormatError(f'{where} is listed twice')
        if not isinstance(im.get('file_name'), str) or not im['file_name']:
            raise COCOFormatError(f'{where} has no file_name')
        for dim in ('height', 'width'):
            if not _is_int(im.get(dim)) or im[dim] <= 0:
                raise COCOFormatError(f'{where} ({im["file_name"]}): {dim} must be a positive '
                                      f'integer, got {im.get(dim)!r}')
        stem = osp.splitext(osp.basename(im['file_name']))[0]
        if stem in stems:
            raise COCOFormatError(f'{where} ({im["file_name"]}) and image id {stems[stem]} '
                                  f'would both be written as {stem}')
        stems[stem] = im['id']
        images[im['id']] = im
    cats: Dict[int, dict] = {}
    for i, cat in enumerate(data['categories']):
        if not isinstance(cat, dict) or not _is_int(cat.get('id')) \
                or not isinstance(cat.get('name'), str):
            raise COCOFormatError(f'{ann_file}: categories[{i}] needs an integer id and a name')
        if cat['id'] in cats:
            raise COCOFormatError(f'{ann_file}: category id {cat["id"]} is listed twice')
        cats[cat['id']] = cat
    ann_ids = set()
    for i, ann in enumerate(data['annotations']):
        if not isinstance(ann, dict) or not _is_int(ann.get('id')):
            raise COCOFormatError(f'{ann_file}: annotations[{i}] has no integer id')
        where = f'{ann_file}: annotation id {ann["id"]}'
        if ann['id'] in ann_ids:
            raise COCOFormatError(f'{where} is listed twice')
        ann_ids.add(ann['id'])
        if ann.get('image_id') not in images:
            raise COCOFormatError(f'{where}: image_id {ann.get("image_id")!r} is not in '
                                  "'images'")
        where += f' (image id {ann["image_id"]})'
        if ann.get('category_id') not in cats:
            # it would vanish from mask and labels alike
            raise COCOFormatError(f'{where}: category_id {ann.get("category_id")!r} is not in '
                                  f"'categories' (ids {sorted(cats)[:20]})")
        if 'segmentation' not in ann:
            raise COCOFormatError(f'{where} has no segmentation (a box-only annotation '
                                  'cannot be drawn into a mask)')
    return data


def _check_rle(seg: dict, height: int, width: int, where: str) -> dict:
    size, counts = seg.get('size'), seg.get('counts')
    if size is None or counts is None:
        raise COCOFormatError(f'{where}: an RLE segmentation needs "size" and "counts"')
    if not isinstance(size, (list, tuple)) or [int(v) for v in size] != [height, width]:
        raise COCOFormatError(f'{where}: RLE size {size} differs from its image size '
                              f'[{height}, {width}] (height, width)')
    if isinstance(counts, list):
        if not all(_is_int(c) and c >= 0 for c in counts):
            raise COCOFormatError(f'{where}: RLE counts must be non-negative integers')
        if sum(counts) != height * width:
            raise COCOFormatError(f'{where}: RLE counts cover {sum(counts)} pixels, its image '
                                  f'has {height * width}')
        return dict(size=[height, width], counts=counts)
    if isinstance(counts, str):
        counts = counts.encode('ascii')
    if not isinstance(counts, bytes):
        raise COCOFormatError(f'{where}: RLE counts must be a list or a string, got '
                              f'{type(counts).__name__}')
    return dict(size=[height, width], counts=counts)


def annotation_mask(ann: dict,
                    height: int,
                    width: int,
                    where: str,
                    dropped: Optional[List[Tuple[int, int]]] = None) -> Optional[np.ndarray]:
    """(H, W) uint8 mask of one annotation, or None when nothing drawable is left.

    Polygons with fewer than 3 points are appended to ``dropped`` as
    ``(annotation id, number of points)``; every other malformed segmentation
    raises :class:`COCOFormatError` naming ``where``.
    """
    from pycocotools import mask as mask_utils  # only the converter needs pycocotools
    seg = ann['segmentation']
    if isinstance(seg, list):
        polygons = []
        for k, poly in enumerate(seg):
            if not isinstance(poly, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in poly):
                raise COCOFormatError(f'{where}: polygon {k} must be a list of numbers')
            if len(poly) % 2:
                raise COCOFormatError(f'{where}: polygon {k} has an odd number of coordinates '
                                      f'({len(poly)})')
            if len(poly) < 6:
                # no area; pycocotools would even read 4 numbers as a box
                if dropped is not None:
                    dropped.append((ann['id'], len(poly) // 2))
                continue
            polygons.append([float(v) for v in poly])
        if not seg and dropped is not None:
            dropped.append((ann['id'], 0))
        if not polygons:
            return None
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(seg, dict):
        rle = _check_rle(seg, height, width, where)
        if isinstance(rle['counts'], list):  # uncompressed (crowd) RLE
            rle = mask_utils.frPyObjects(rle, height, width)
    else:
        raise COCOFormatError(f'{where}: segmentation must be polygons (a list) or an RLE '
                              f'(a dict), got {type(seg).__name__}')
    try:
        mask = mask_utils.decode(rle)
    except Exception as e:  # a corrupt compressed RLE string
        raise COCOFormatError(f'{where}: cannot decode its RLE: {e}') from None
    if mask.shape[:2] != (height, width):
        raise COCOFormatError(f'{where}: decoded mask is {mask.shape[:2]}, its image '
                              f'{(height, width)}')
    return mask


def rasterize(anns: List[dict], height: int, width: int, cat_to_idx: Dict[int, int],
              ann_to_mask: Callable[[dict], Optional[np.ndarray]]) -> np.ndarray:
    """Draw the annotations of one image into a (H, W) uint8 class-index map.

    Crowd regions first (255), then instances by decreasing area (see module doc).
    ``ann_to_mask`` may return None (nothing drawable).
    """
    seg = np.zeros((height, width), dtype=np.uint8)
    kept = [a for a in anns if cat_to_idx.get(a['category_id'], 0) > 0]
    for ann in kept:
        if ann.get('iscrowd', 0):
            mask = ann_to_mask(ann)
            if mask is not None:
                seg[mask > 0] = IGNORE_INDEX
    instances = sorted((a for a in kept if not a.get('iscrowd', 0)),
                       key=lambda a: (-float(a.get('area', 0.0)), a.get('id', 0)))
    for ann in instances:
        mask = ann_to_mask(ann)
        if mask is not None:
            seg[mask > 0] = cat_to_idx[ann['category_id']]
    return seg


def image_labels(anns: List[dict], cat_to_idx: Dict[int, int]) -> List[int]:
    """Sorted foreground indices (segmentation index - 1) of the label-space annotations."""
    idx = {cat_to_idx.get(a['category_id'], 0) for a in anns}
    return sorted(i - 1 for i in idx if i > 0)


# --------------------------------------------------------------------------- writing
def write_text_atomic(path: str, text: str) -> None:
    atomic_write_text(path, text)


def write_json_atomic(path: str, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True) + '\n')


def write_mask_atomic(path: str, seg: np.ndarray, palette: List[List[int]]) -> None:
    """Save a (H, W) uint8 map as a palette ('P' mode) PNG.

    ``putpalette`` turns the 'L' image into 'P' keeping the indices (a 'P' image
    without palette may get its indices remapped when saved by Pillow 13).
    """
    img = Image.fromarray(np.ascontiguousarray(seg, dtype=np.uint8))  # 'L'
    img.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())
    atomic_write(path, lambda f: img.save(f, format='PNG'))


def _labels_json(labels: Dict[str, List[int]]) -> str:
    """One ``"stem": [indices]`` entry per line (valid JSON, diff-friendly)."""
    lines = [f'{json.dumps(k)}: {json.dumps(labels[k])}' for k in sorted(labels)]
    return '{\n' + ',\n'.join(lines) + '\n}\n' if lines else '{}\n'


def place_image_atomic(src: str, dst: str, link: bool) -> None:
    """Copy ``src`` to ``dst`` (or symlink to its absolute path)."""
    if link:
        tmp = temp_path_for(dst)
        os.symlink(osp.abspath(src), tmp)
        try:
            os.replace(tmp, dst)
        except BaseException:
            if osp.lexists(tmp):
                os.remove(tmp)
            raise
    else:
        with open(src, 'rb') as fsrc:
            atomic_write(dst, lambda f: shutil.copyfileobj(fsrc, f))


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{path} is not valid JSON: {e}') from e


def _image_file_size(path: str) -> Tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except (OSError, SyntaxError) as e:
        raise OSError(f'cannot read image {path}: {e}') from e


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
        ``unlabelled`` (stems), ``num_total`` (images in the JSON),
        ``dropped_polygons`` (annotation ids of the polygons with < 3 points).
    """
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

    data = load_coco_json(ann_file)
    try:
        cat_to_idx = category_to_index(data['categories'], label_space)
    except ValueError as e:
        raise COCOFormatError(f'{ann_file}: {e}') from None
    images = sorted(data['images'], key=lambda im: im['file_name'])
    if not images:
        raise COCOFormatError(f'{ann_file} lists no image')
    missing = [
        im['file_name'] for im in images if not osp.isfile(osp.join(img_dir, im['file_name']))
    ]
    if missing:
        raise FileNotFoundError(f'{len(missing)} image(s) of {ann_file} are missing from '
                                f'{img_dir}: {missing[:10]}')
    anns_of: Dict[int, List[dict]] = defaultdict(list)
    for ann in data['annotations']:
        anns_of[ann['image_id']].append(ann)

    # everything is checked before the first file is written
    label_path = osp.join(out_dir, LABEL_FILE)
    all_labels = _load_json(label_path) if osp.isfile(label_path) else {}
    plan, unlabelled = [], []
    for info in images:
        path = osp.join(img_dir, info['file_name'])
        file_hw = _image_file_size(path)
        if file_hw != (info['height'], info['width']):
            # a mask of the JSON's size would not fit the image
            raise COCOFormatError(
                f'{ann_file}: image id {info["id"]} ({info["file_name"]}) is '
                f'{info["height"]}x{info["width"]} (HxW) in the JSON but {file_hw[0]}x'
                f'{file_hw[1]} in {path}')
        stem = osp.splitext(osp.basename(info['file_name']))[0]
        labels = image_labels(anns_of[info['id']], cat_to_idx)
        if not labels and not keep_unlabelled:
            unlabelled.append(stem)
            continue
        old = all_labels.get(stem)
        if old is not None and list(old) != labels:
            raise ValueError(f'image {stem} is already in {label_path} with labels {old}, '
                             f'but {ann_file} gives {labels}')
        plan.append((info, stem, labels))
    if not plan:
        raise COCOFormatError(
            f'{ann_file}: none of its {len(images)} images has an annotation of the '
            f'{label_space!r} label space, so the {split!r} split would be empty '
            '(keep_unlabelled / --keep-unlabelled writes them anyway)')

    for sub in (IMG_DIR, MASK_DIR, SPLIT_DIR):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    log(f'converting {len(images)} images of {ann_file} -> {out_dir} '
        f'(split {split!r}, label space {label_space!r})')
    kept, dropped = [], []
    step = max(1, len(plan) // 10)
    for i, (info, stem, labels) in enumerate(plan):
        h, w = info['height'], info['width']

        def to_mask(ann, h=h, w=w, image_id=info['id']):
            return annotation_mask(
                ann, h, w, f'{ann_file}: annotation id {ann["id"]} '
                f'(image id {image_id})', dropped)

        seg = rasterize(anns_of[info['id']], h, w, cat_to_idx, to_mask)
        place_image_atomic(
            osp.join(img_dir, info['file_name']), osp.join(out_dir, IMG_DIR, stem + '.jpg'), link)
        write_mask_atomic(osp.join(out_dir, MASK_DIR, stem + '.png'), seg, palette)
        all_labels[stem] = labels
        kept.append(stem)
        if (i + 1) % step == 0 or i + 1 == len(plan):
            log(f'  [{split}] {i + 1}/{len(plan)}')

    write_text_atomic(osp.join(out_dir, SPLIT_DIR, split + '.txt'), ''.join(s + '\n' for s in kept))
    write_text_atomic(
        osp.join(out_dir, SPLIT_DIR, split + '_unlabelled.txt'),
        ''.join(s + '\n' for s in unlabelled))
    write_text_atomic(label_path, _labels_json(all_labels))
    dropped_ids = sorted({ann_id for ann_id, _ in dropped})
    meta.update(
        label_space=label_space,
        classes=list(classes),
        label_file=LABEL_FILE,
        converter_version=CONVERTER_VERSION,
        label_format='{stem: [foreground indices]}, index k = class k + 1')
    meta.setdefault('splits', {})[split] = dict(
        ann_file=osp.abspath(ann_file),
        num_images=len(kept),
        num_unlabelled=len(unlabelled),
        keep_unlabelled=keep_unlabelled,
        dropped_polygons=dropped_ids)
    write_json_atomic(meta_path, meta)
    if unlabelled:
        log(f'  {len(unlabelled)} image(s) have no {label_space!r} class and were left out of '
            f'{split}.txt; listed in {osp.join(SPLIT_DIR, split + "_unlabelled.txt")}')
    if dropped:
        log(f'  WARNING: {len(dropped)} polygon(s) with fewer than 3 points cannot be drawn '
            f'and were dropped, in annotation id(s) {dropped_ids[:20]}' +
            (' ...' if len(dropped_ids) > 20 else '') + f' (listed in {META_FILE}; '
            'their classes stay in the image labels)')
    log(f'  {split}: {len(kept)} images written')
    return dict(
        split=split,
        num_images=len(kept),
        num_unlabelled=len(unlabelled),
        unlabelled=unlabelled,
        num_total=len(images),
        dropped_polygons=dropped_ids)
