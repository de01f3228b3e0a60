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

Every text file (CSV, JSON, split and class lists) is read as UTF-8, with or
without a BOM (Excel writes one). Nothing is skipped or overwritten silently: a
duplicated image, JSON key or split id, a CSV row with more or fewer fields
than its header, a non-UTF-8 file and a mask value that does not fit the class
range are errors naming the file and the line or key. ``.npy`` files are never
unpickled with pickle's full power (see :mod:`mmwsss.utils.safe_pickle`).
"""
import csv
import io
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from PIL import Image

from mmwsss.utils.safe_pickle import load_pickled_npy


class LabelFileError(ValueError):
    """A label, split or class file that cannot be used as it is (named in the message)."""


def _decode_key(key) -> str:
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        s = str(int(key))
        # IRN stores '2007_000032' as the int 2007000032
        return f'{s[:4]}_{s[4:]}' if len(s) == 10 else s
    if isinstance(key, str):
        return key
    raise TypeError(f'image ids must be strings or integers, got {type(key).__name__} '
                    f'{key!r}')


def read_text(path: str, what: str = 'file') -> str:
    """The whole of a UTF-8 text file (an Excel BOM is dropped), errors naming the file.

    A Latin-1 or UTF-16 file raises :class:`LabelFileError` saying so instead of a
    bare ``UnicodeDecodeError``.
    """
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        if raw[:2] in (b'\xff\xfe', b'\xfe\xff'):
            found = 'UTF-16 (it starts with a UTF-16 byte-order mark)'
        else:
            found = f'not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})'
        line = raw.count(b'\n', 0, e.start) + 1
        raise LabelFileError(f'{what} {path} line {line}: the file is {found}; save it as '
                             'UTF-8 (with or without BOM)') from None


def _no_duplicate_keys(path: str):
    """``object_pairs_hook`` for json: a key given twice is an error, not 'last wins'."""

    def hook(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise LabelFileError(f'{path}: key {key!r} appears twice (JSON keeps only '
                                     'the last one; remove the duplicate)')
            out[key] = value
        return out

    return hook


def load_json_strict(path: str, what: str = 'JSON file') -> Any:
    """``json`` parse of a UTF-8 file refusing duplicated keys; errors name the file."""
    text = read_text(path, what)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as e:
        raise LabelFileError(f'{what} {path} is not valid JSON: {e}') from None


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
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise ValueError(f'{where}: expected a label vector (numpy array), got '
                         f'{type(value).__name__}')
    try:
        vec = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{where}: label vector is not numeric: {e}') from None
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


def _load_npy_labels(path: str, num_fg: int) -> Dict[str, np.ndarray]:
    # never np.load(allow_pickle=True): a pickle runs code while it is read
    array = load_pickled_npy(path)
    data = array.item() if array.dtype.hasobject and array.size == 1 else None
    if not isinstance(data, dict):
        raise LabelFileError(f'{path}: expected a pickled dict {{image id: vector}} '
                             f'(psa/irn cls_labels.npy), got a {array.dtype} array of shape '
                             f'{array.shape}')
    out: Dict[str, np.ndarray] = {}
    for key, value in data.items():
        try:
            name = _decode_key(key)
        except TypeError as e:
            raise LabelFileError(f'{path}: {e}') from None
        if name in out:
            raise LabelFileError(f'{path}: image {name} is listed twice (keys {key!r} and '
                                 'an earlier one decode to the same id)')
        out[name] = _vector(value, num_fg, f'{path} [{name}]')
    return out


def _load_json_labels(path: str, classes: Sequence[str]) -> Dict[str, np.ndarray]:
    data = load_json_strict(path, 'image-label file')
    if not isinstance(data, dict):
        raise LabelFileError(f'{path}: expected {{image: [class names or indices]}}, got '
                             f'a JSON {type(data).__name__}')
    out: Dict[str, np.ndarray] = {}
    for key, value in data.items():
        if not isinstance(value, list):
            raise ValueError(f'{path} [{key}]: expected a list of class names or '
                             f'foreground indices, got {value!r}')
        out[str(key)] = multi_hot(value, classes, f'{path} [{key}]')
    return out


def _load_csv_labels(path: str, classes: Sequence[str]) -> Dict[str, np.ndarray]:
    text = read_text(path, 'image-label file')
    reader = csv.reader(io.StringIO(text, newline=''))
    header = next(reader, None)
    fields = [h.strip() for h in header] if header else []
    if not {'image', 'labels'} <= set(fields):
        raise LabelFileError(f'{path}: needs a header with columns "image" and "labels", '
                             f'got {fields}')
    if len(set(fields)) != len(fields):
        raise LabelFileError(f'{path} line 1: duplicated column names in {fields}')
    i_img, i_lab = fields.index('image'), fields.index('labels')
    out: Dict[str, np.ndarray] = {}
    line_no = reader.line_num
    for row in reader:
        start, line_no = line_no + 1, reader.line_num
        where = f'{path} line {start}'
        if not row or all(not c.strip() for c in row):
            continue  # a blank line holds no sample
        if len(row) != len(fields):
            # an unquoted ',' inside the labels makes an extra field: taking only the
            # first would silently drop labels
            raise LabelFileError(
                f'{where}: {len(row)} fields but the header has {len(fields)} {fields}: '
                f'{row}; separate labels with ";" or quote the field')
        key = row[i_img].strip()
        if not key:
            raise LabelFileError(f'{where}: empty image name')
        if key in out:
            raise LabelFileError(f'{where}: image {key} listed twice')
        out[key] = multi_hot(split_label_field(row[i_lab]), classes, f'{where} [{key}]')
    return out


def load_label_file(path: str, classes: Sequence[str]) -> Dict[str, np.ndarray]:
    """Read a label file (see module doc) into ``{key: multi-hot (C,) float32}``.

    Nothing is read with pickle's full power: ``.npy`` pickles go through
    :class:`mmwsss.utils.safe_pickle.NumpyOnlyUnpickler`. Duplicated images or
    JSON keys, CSV rows with a wrong number of fields and non-UTF-8 text are
    errors naming the file and the key or line.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image-label file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext == '.npy':
        return _load_npy_labels(path, len(classes) - 1)
    if ext == '.json':
        return _load_json_labels(path, classes)
    if ext == '.csv':
        return _load_csv_labels(path, classes)
    raise ValueError(f'{path}: unsupported label file type {ext!r} '
                     '(expected .npy, .json or .csv)')


def read_classes_file(path: str) -> List[str]:
    """One class name per line (blank lines and ``#`` comments ignored)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'classes file not found: {path}')
    names = [ln.split('#')[0].strip() for ln in read_text(path, 'classes file').splitlines()]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise ValueError(f'{path}: duplicated class names in {names}')
    return names


def read_split_file(path: str) -> List[str]:
    """Non-empty, stripped lines of a split list (e.g. ImageSets/Segmentation/train.txt).

    An id listed twice is an error naming both lines: it would be trained on and
    scored twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    first_line: Dict[str, int] = {}
    for line_no, line in enumerate(read_text(path, 'split file').splitlines(), start=1):
        key = line.strip()
        if not key:
            continue
        if key in first_line:
            raise LabelFileError(f'split file {path} line {line_no}: {key} is already '
                                 f'listed on line {first_line[key]}')
        first_line[key] = line_no
    return list(first_line)


# PNG modes that hold class indices; 'I;16' / 'I' (16/32-bit grey) are accepted but
# checked value by value, because a cast to uint8 would wrap 270 to 14
MASK_MODES = ('P', 'L', 'I', 'I;16')
EIGHT_BIT_MODES = ('P', 'L')


def mask_mode(path: str) -> str:
    """PIL mode of a mask from its header (no decoding), errors naming the file."""
    try:
        with Image.open(path) as img:
            return img.mode
    except (OSError, SyntaxError) as e:
        raise OSError(f'cannot read segmentation map {path}: {e}') from e


def read_mask(path: str) -> np.ndarray:
    """A class-index PNG -> (H, W) integer array (palette indices are kept as-is).

    The dtype is the file's (uint8, or uint16/int32 for 16/32-bit PNGs): never cast
    here, so :func:`check_mask` sees the real values.
    """
    try:
        with Image.open(path) as img:
            if img.mode not in MASK_MODES:
                raise ValueError(f'segmentation map {path} has mode {img.mode}; expected a '
                                 'single-channel class-index PNG (palette or grey)')
            arr = np.array(img)
    except (OSError, SyntaxError) as e:
        raise OSError(f'cannot read segmentation map {path}: {e}') from e
    return arr


def check_mask(seg: np.ndarray,
               path: str,
               num_classes: int,
               ignore_index: int = 255,
               image_size: Optional[tuple] = None) -> None:
    """Raise naming ``path`` for a bad size (``image_size`` = (H, W)) or class index.

    Works on the uncast values, so a 16-bit 270 is reported as 270 (not as the 14 a
    uint8 cast would make of it).
    """
    if image_size is not None and tuple(seg.shape[:2]) != tuple(image_size):
        raise ValueError(f'segmentation map {path} has size {tuple(seg.shape[:2])} but its '
                         f'image has size {tuple(image_size)}')
    if not (np.issubdtype(seg.dtype, np.integer) or seg.dtype == np.bool_):
        raise ValueError(f'segmentation map {path} holds {seg.dtype} values; expected '
                         'integer class indices')
    bad = np.unique(seg[((seg >= num_classes) | (seg < 0)) & (seg != ignore_index)])
    if bad.size:
        raise ValueError(f'segmentation map {path} holds class indices {bad.tolist()[:10]} '
                         f'outside [0, {num_classes}) and not ignore ({ignore_index})')


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
