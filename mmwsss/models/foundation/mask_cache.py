"""On-disk cache of per-image SAM masks, so re-refining with other CAMs skips SAM.

Key = sha1 of (SAM settings, image path, sha1 of the image pixels). Pixels rather than
mtime: the image SAM sees may be a resized copy of the file. Entries are compressed
``.npz`` files with bit-packed masks, written atomically (temp file + os.replace) so a
killed run or two concurrent workers never leave a truncated entry.
"""
import hashlib
import json
import os
import tempfile
from typing import Dict, Optional

import numpy as np


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
            with np.load(path) as data:
                shape = tuple(int(s) for s in data['shape'])
                n = shape[0] * shape[1] * shape[2]
                masks = np.unpackbits(data['packed'], count=n).astype(bool).reshape(shape)
                out = {k: data[k] for k in data.files if k not in ('packed', 'shape')}
        except (OSError, ValueError, KeyError) as e:
            raise RuntimeError(f'corrupt SAM mask cache entry {path}: {e}; delete it') from e
        out['masks'] = masks
        return out

    def put(self, key: str, masks: np.ndarray, **extras: np.ndarray) -> str:
        """Store (N, H, W) bool masks (+ arrays) atomically; returns the path."""
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.tmp.npz')
        try:
            with os.fdopen(fd, 'wb') as f:
                np.savez_compressed(f, packed=np.packbits(masks.astype(bool).ravel()),
                                    shape=np.array(masks.shape, np.int64), **extras)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path
