"""Atomic file writes: nothing half-written survives a crash."""
import os
import os.path as osp
import tempfile

import numpy as np
from PIL import Image


def image_stem(path: str) -> str:
    """File name without folder and extension: 'a/b/0001.jpg' -> '0001'."""
    return osp.splitext(osp.basename(path))[0]


def _atomic(path: str, write_fn, suffix: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix=suffix)
    os.close(fd)
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


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
    _atomic(path, lambda tmp: img.save(tmp, format='PNG'), '.png')


def atomic_save_npz(path: str, **arrays) -> None:
    """np.savez_compressed, atomically."""
    def _write(tmp):
        with open(tmp, 'wb') as f:
            np.savez_compressed(f, **arrays)
    _atomic(path, _write, '.npz')


def atomic_write_text(path: str, text: str) -> None:
    def _write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
    _atomic(path, _write, '.txt')
