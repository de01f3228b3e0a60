"""Readers for image-level label files, class lists and label-from-mask derivation.

Image labels are multi-hot ``np.float32`` vectors of length C over the
*foreground* classes: entry ``k`` is segmentation class ``k + 1``.

Supported label files:

- ``.npy``: the psa/irn ``cls_labels.npy`` format, a pickled dict
  ``{image id: C-vector}``. PSA keys are strings (``'2007_000032'``); IRN keys
  are the integer form of the id (``2007000032``), decoded back as
  ``'2007_000032'`` (a 10-digit key gets an ``_`` after the year).
- ``.json``: ``{image key: [class names or foreground indices]}``; a list of
  strings names classes, a list of ints gives foreground indices
  (0-based, i.e. segmentation index - 1). ``[]`` = background only.
- ``.csv``: a header with columns ``image`` and ``labels``; ``labels`` holds class
  names separated by ``;`` (names may then contain spaces), or by whitespace
  when the field has no ``;``. An empty field = background only.
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from PIL import Image


def _decode_key(key) -> str:
    if isinstance(key, (int, np.integer)):
        s = str(int(key))
        # IRN stores '2007_000032' as the int 2007000032
        return f'{s[:4]}_{s[4:]}' if len(s) == 10 else s
    return str(key)


def multi_hot(entries: Sequence[Union[str, int]], classes: Sequence[str], where: str) -> np.ndarray:
    """Foreground names or indices -> multi-hot (C,) float32 over ``classes[1:]``.

    Raises ``ValueError`` naming ``where`` for an unknown name or an index out of range.
    """
    fg = list(classes[1:])
    label = np.zeros(len(fg), dtype=np.float32)
    for e in entries:
        if isinstance(e, str):
            if e not in fg:
                raise ValueError(f'{where}: unknown class {e!r}; known foreground classes '
                                 f'are {fg}')
            label[fg.index(e)] = 1
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            if not 0 <= int(e) < len(fg):
                raise ValueError(f'{where}: foreground index {e} out of range [0, {len(fg)})')
            label[int(e)] = 1
        else:
            raise ValueError(f'{where}: labels must be class names or foreground indices, '
                             f'got {e!r}')
    return label


def _vector(value, num_fg: int, where: str) -> np.ndarray:
    vec = np.asarray(value, dtype=np.float32).reshape(-1)
    if vec.shape[0] != num_fg:
        raise ValueError(f'{where}: label vector has length {vec.shape[0]}, expected {num_fg} '
                         'foreground classes')
    if not np.isin(vec, (0, 1)).all():
        raise ValueError(f'{where}: label vector must be 0/1, got {vec.tolist()}')
    return vec


def split_label_field(field: str) -> List[str]:
    """``'cat; dog'`` -> ['cat', 'dog']; ``'cat dog'`` -> ['cat', 'dog']; ``''`` -> []."""
    parts = field.split(';') if ';' in field else field.split()
    return [p.strip() for p in parts if p.strip()]


def load_label_file(path: str, classes: Sequence[str]) -> Dict[str, np.ndarray]:
    """Read a label file (see module doc) into ``{key: multi-hot (C,) float32}``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image-label file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    num_fg = len(classes) - 1
    out: Dict[str, np.ndarray] = {}
    if ext == '.npy':
        try:
            data = np.load(path, allow_pickle=True).item()
        except Exception as e:
            raise ValueError(f'{path}: expected a pickled dict {{image id: vector}} '
                             f'(psa/irn cls_labels.npy): {e}') from e
        for key, value in data.items():
            name = _decode_key(key)
            out[name] = _vector(value, num_fg, f'{path} [{name}]')
    elif ext == '.json':
        with open(path, encoding='utf-8') as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path} is not valid JSON: {e}') from e
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected {{image: [class names or indices]}}')
        for key, value in data.items():
            if not isinstance(value, list):
                raise ValueError(f'{path} [{key}]: expected a list of class names or '
                                 f'foreground indices, got {value!r}')
            out[str(key)] = multi_hot(value, classes, f'{path} [{key}]')
    elif ext == '.csv':
        with open(path, encoding='utf-8', newline='') as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {'image', 'labels'} <= set(reader.fieldnames):
                raise ValueError(f'{path}: needs a header with columns "image" and "labels", '
                                 f'got {reader.fieldnames}')
            for row_no, row in enumerate(reader, start=2):
                key = (row['image'] or '').strip()
                if not key:
                    raise ValueError(f'{path} line {row_no}: empty image name')
                if key in out:
                    raise ValueError(f'{path} line {row_no}: image {key} listed twice')
                names = split_label_field(row['labels'] or '')
                out[key] = multi_hot(names, classes, f'{path} line {row_no} [{key}]')
    else:
        raise ValueError(f'{path}: unsupported label file type {ext!r} '
                         '(expected .npy, .json or .csv)')
    return out


def read_classes_file(path: str) -> List[str]:
    """One class name per line (blank lines and ``#`` comments ignored)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'classes file not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = [ln.split('#')[0].strip() for ln in f]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise ValueError(f'{path}: duplicated class names in {names}')
    return names


def read_split_file(path: str) -> List[str]:
    """Non-empty, stripped lines of a split list (e.g. ImageSets/Segmentation/train.txt)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path, encoding='utf-8') as f:
        return [ln.strip() for ln in f if ln.strip()]


def read_mask(path: str) -> np.ndarray:
    """A class-index PNG -> (H, W) uint8 array (palette indices are kept as-is)."""
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L', 'I', 'I;16'):
                raise ValueError(f'segmentation map {path} has mode {img.mode}; expected a '
                                 'single-channel class-index PNG (palette or grey)')
            arr = np.array(img)
    except (OSError, SyntaxError) as e:
        raise OSError(f'cannot read segmentation map {path}: {e}') from e
    return arr


def check_mask(seg: np.ndarray, path: str, num_classes: int, ignore_index: int = 255,
               image_size: Optional[tuple] = None) -> None:
    """Raise naming ``path`` for a bad size (``image_size`` = (H, W)) or class index."""
    if image_size is not None and tuple(seg.shape[:2]) != tuple(image_size):
        raise ValueError(f'segmentation map {path} has size {tuple(seg.shape[:2])} but its '
                         f'image has size {tuple(image_size)}')
    bad = np.unique(seg[(seg >= num_classes) & (seg != ignore_index)])
    if bad.size:
        raise ValueError(f'segmentation map {path} holds class indices {bad.tolist()} outside '
                         f'[0, {num_classes}) and not ignore ({ignore_index})')


def labels_from_mask(seg: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Classes present in a (H, W) map, ignoring 0 and ``ignore_index`` -> (C,) multi-hot."""
    present = np.unique(seg)
    present = present[(present > 0) & (present != ignore_index) & (present < num_classes)]
    label = np.zeros(num_classes - 1, dtype=np.float32)
    label[present.astype(np.int64) - 1] = 1
    return label


def image_size(path: str) -> tuple:
    """(H, W) of an image from its header (no decoding)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError) as e:
        raise OSError(f'cannot read image {path}: {e}') from e
    return h, w
