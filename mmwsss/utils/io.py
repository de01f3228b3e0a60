"""Atomic file writes: nothing half-written survives a crash.

Every writer here writes to a temporary file *in the target folder*, flushes and
``fsync``\\ s it, renames it over the target (``os.replace`` is atomic on POSIX)
and fsyncs the folder. A process killed at any point leaves either the old
file, the new file or a temporary file, never a truncated target.

Temporary names are ``.<target name>.<pid>-<random>.tmp`` (a writer that picks
the format from the extension, like ``cv2.imwrite``, gets the extension
appended after ``.tmp``). The leading ``.`` hides them from every reader in
mmwsss (:func:`is_temp_name`) and from ``ls``; a killed run's leftovers are
removed by :func:`remove_stale_temp_files` at the next run.

Files are created with ``0o666 & ~umask`` (what ``open()`` gives), not with
``tempfile.mkstemp``'s 0600, so outputs are as readable as any other file the
user writes.
"""
import io
import json
import os
import os.path as osp
import re
import secrets
from typing import Any, BinaryIO, Callable, Dict, List, Optional

import numpy as np
from PIL import Image

# '.<name>.<token>.tmp' and optionally an extension after it; '.tmp-*' is the naming of
# mmwsss before these helpers (tempfile.mkstemp(prefix='.tmp-')), still cleaned up.
_TEMP_RE = re.compile(r'^\..+\.tmp(\.[A-Za-z0-9]+)?$|^\.tmp-')


def image_stem(path: str) -> str:
    """File name without folder and extension: 'a/b/0001.jpg' -> '0001'."""
    return osp.splitext(osp.basename(path))[0]


def output_key(img_path: str, img_root: Optional[str] = None) -> str:
    """Name of the outputs of one image: its path relative to ``img_root``, no extension.

    ``images/a/01.jpg`` and ``images/b/01.jpg`` give ``a/01`` and ``b/01``, so two
    images with the same file name never share an output. Without ``img_root`` (or
    with ``img_root=''``) the key is the file stem. Separators are always ``/``.

    Raises:
        ValueError: ``img_path`` is not inside ``img_root``.
    """
    if not img_root:
        return image_stem(img_path)
    rel = osp.relpath(osp.abspath(img_path), osp.abspath(img_root))
    if rel == '.' or rel.startswith('..' + os.sep) or rel == '..':
        raise ValueError(f'image {img_path} is not inside the image folder {img_root}; '
                         'cannot name its outputs')
    return osp.splitext(rel)[0].replace(os.sep, '/')


def is_temp_name(name: str) -> bool:
    """Whether a file name (no folder) is a temporary file of an atomic write."""
    return bool(_TEMP_RE.match(osp.basename(name)))


def temp_path_for(path: str, keep_ext: bool = False) -> str:
    """A fresh temporary name next to ``path`` (see module doc); nothing is created."""
    folder, name = osp.split(osp.abspath(path))
    token = f'{os.getpid()}-{secrets.token_hex(4)}'
    ext = osp.splitext(name)[1] if keep_ext else ''
    return osp.join(folder, f'.{name}.{token}.tmp{ext}')


def remove_stale_temp_files(folder: str, recursive: bool = True) -> List[str]:
    """Delete the temporary files a killed run left in ``folder``; returns their paths.

    Only names matching :func:`is_temp_name` are touched. Call it before writing
    into the folder (no other writer may be running there at that moment).
    """
    removed: List[str] = []
    if not osp.isdir(folder):
        return removed
    for root, dirs, files in os.walk(folder):
        for name in files:
            if is_temp_name(name):
                path = osp.join(root, name)
                try:
                    os.remove(path)
                except FileNotFoundError:  # removed concurrently: the goal is reached
                    continue
                removed.append(path)
        if not recursive:
            break
    return removed


def _fsync_dir(folder: str) -> None:
    # the rename is only durable once the folder entry is on disk
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write_fn: Callable[[BinaryIO], None]) -> None:
    """Call ``write_fn(f)`` on a binary file object; the result appears at ``path``
    only when it returned and the data is on disk."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = temp_path_for(path)
    # O_EXCL: never write through a file (or link) someone else put there;
    # mode 0o666 is reduced by the umask like any open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0), 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _atomic(path: str, write_fn: Callable[[str], Any], suffix: str = '') -> None:
    """Path-based variant for writers that open the file themselves (``cv2.imwrite``).

    ``write_fn(tmp_path)`` must create ``tmp_path``; ``suffix`` (e.g. ``'.png'``)
    is appended to the temporary name for writers that need the extension.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = temp_path_for(path) + suffix
    try:
        write_fn(tmp)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path: str, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def atomic_write_json(path: str, obj: Any, **dump_kwargs) -> None:
    """``json.dump`` (indent 2 unless given), atomically; NaN is refused (not JSON)."""
    dump_kwargs.setdefault('indent', 2)
    atomic_write_text(path, json.dumps(obj, allow_nan=False, **dump_kwargs) + '\n')


def atomic_write_png(path: str, label: np.ndarray, palette=None) -> None:
    """Save a (H, W) uint8 label map as PNG (mode 'P' when a palette is given)."""
    if label.dtype != np.uint8 or label.ndim != 2:
        raise ValueError(f'{path}: label must be a (H, W) uint8 array, got '
                         f'{label.dtype} {label.shape}')
    img = Image.fromarray(label, mode='L')
    if palette is not None:
        # putpalette on an 'L' image makes it 'P' without touching the indices
        # (convert('P') would re-quantise them)
        img.putpalette(np.asarray(palette, dtype=np.uint8).flatten().tolist())
    atomic_write(path, lambda f: img.save(f, format='PNG'))


def atomic_write_image(path: str, img_bgr: np.ndarray) -> None:
    """Save an (H, W, 3) uint8 BGR picture (OpenCV order) atomically; the format
    follows the extension (``.png`` when there is none), an unsupported one is an
    error naming the file."""
    import cv2  # only the picture tools need OpenCV here

    def write(tmp: str) -> None:
        try:
            ok = cv2.imwrite(tmp, img_bgr)
        except cv2.error as e:  # OpenCV raises for an extension it has no writer for
            raise OSError(f'could not write {path}: {e}') from e
        if not ok:
            raise OSError(f'could not write {path} (unsupported extension?)')

    _atomic(path, write, osp.splitext(path)[1] or '.png')


def atomic_save_npz(path: str, **arrays: np.ndarray) -> None:
    """``np.savez_compressed``, atomically. Object arrays are refused: they would be
    pickled, and a file that needs pickle to be read is a code-execution risk."""
    for key, value in arrays.items():
        if np.asarray(value).dtype.hasobject:
            raise TypeError(f'{path}: array {key!r} has dtype object; only numeric '
                            'arrays are saved (object arrays need pickle to be read)')
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


class _PickledArray(ValueError):
    """An array of an ``.npz`` that would need pickle (already names file and key)."""


def load_npz(path: str, what: str = 'file') -> Dict[str, np.ndarray]:
    """All arrays of an ``.npz`` with ``allow_pickle=False``, errors naming the file.

    Used for every ``.npz`` mmwsss reads (``--save-cams`` outputs, the SAM mask
    cache): such a file can never run code.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, 'files'):  # a bare .npy array, not an archive
                raise ValueError('it holds a single array, not an .npz archive')
            out = {}
            for key in data.files:
                try:
                    out[key] = data[key]
                except ValueError as e:  # an object array: it would need pickle
                    raise _PickledArray(f'{what} {path}: array {key!r} needs pickle to be '
                                        f'read ({e}); refusing it') from None
            return out
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} not found: {path}') from None
    except _PickledArray:
        raise
    except Exception as e:  # zipfile.BadZipFile, a pickle file, EOFError ...
        raise ValueError(f'{what} {path} is not a valid .npz file (truncated or '
                         f'corrupt?): {type(e).__name__}: {e}') from None


def read_cams_npz(path: str) -> Dict[str, np.ndarray]:
    """A ``--save-cams`` file: ``keys`` (K,) foreground indices, ``cams`` (K, H, W)."""
    data = load_npz(path, 'CAM file')
    missing = {'keys', 'cams'} - set(data)
    if missing:
        raise KeyError(f'CAM file {path} lacks {sorted(missing)} (has {sorted(data)})')
    if data['cams'].ndim != 3 or data['cams'].shape[0] != data['keys'].shape[0]:
        raise ValueError(f'CAM file {path}: cams {data["cams"].shape} does not match '
                         f'keys {data["keys"].shape}')
    return data


def torch_save_atomic(obj: Any, path: str) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
