"""On-disk cache of per-image SAM masks, so re-refining with other CAMs skips SAM.

Key = sha1 of (SAM settings, image path, sha1 of the image pixels). Pixels rather than
mtime: the image SAM sees may be a resized copy of the file. Entries are compressed
``.npz`` files with bit-packed masks, written atomically (``.<name>.<id>.tmp`` + fsync +
os.replace, see :mod:`mmwsss.utils.io`) so a killed run or two concurrent workers never
leave a truncated entry. Entries are read with ``allow_pickle=False``: a cache folder
someone else wrote cannot run code; object arrays are refused when written too.
"""
import hashlib
import json
import os
from typing import Dict, Optional

import numpy as np

from mmwsss.utils.io import atomic_save_npz, load_npz


def image_key(img: np.ndarray, settings: dict, img_path: Optional[str] = None) -> str:
    """Hex key of an (H, W, 3) uint8 image under given SAM settings."""
    h = hashlib.sha1()
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(str(img_path or '').encode())
    h.update(str(img.shape).encode())
    h.update(hashlib.sha1(np.ascontiguousarray(img).tobytes()).digest())
    return h.hexdigest()


class MaskCache:
    """Directory of ``<key>.npz`` entries holding ``masks`` (N, H, W) bool + extras."""

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        os.makedirs(cache_dir, exist_ok=True)

    def path(self, key: str) -> str:
        return os.path.join(self.cache_dir, key[:2], f'{key}.npz')

    def get(self, key: str) -> Optional[Dict[str, np.ndarray]]:
        path = self.path(key)
        if not os.path.isfile(path):
            return None
        try:
            data = load_npz(path, 'SAM mask cache entry')
            shape = tuple(int(s) for s in data.pop('shape'))
            n = shape[0] * shape[1] * shape[2]
            masks = np.unpackbits(data.pop('packed'), count=n).astype(bool).reshape(shape)
        except (OSError, ValueError, KeyError) as e:
            raise RuntimeError(f'corrupt SAM mask cache entry {path}: {e}; delete it') from e
        data['masks'] = masks
        return data

    def put(self, key: str, masks: np.ndarray, **extras: np.ndarray) -> str:
        """Store (N, H, W) bool masks (+ numeric arrays) atomically; returns the path."""
        path = self.path(key)
        atomic_save_npz(
            path,
            packed=np.packbits(masks.astype(bool).ravel()),
            shape=np.array(masks.shape, np.int64),
            **extras)
        return path
