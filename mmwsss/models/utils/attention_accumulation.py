"""Online attention accumulation (OAA, Jiang et al. ICCV'19; as RCA uses it).

During training, every image's class maps are max-accumulated into one uint8 PNG per
(image, class): ``<folder>/<key>_<class>.png`` holding ``round(relu(map) / max * 255)``
at the map's resolution, where a later epoch keeps the per-pixel maximum with what is
there. Writes are atomic (:func:`mmwsss.utils.io.atomic_write_png`), so a killed run
leaves whole files only, and a resumed run simply continues from the files on disk (the
accumulation is a max: resuming is reading the folder again). Temporary files of a killed
run are removed when the accumulator is created.

Official rule (maeve07/RCA ``models/rca.py`` forward, ``index`` given and epoch >= 1), for
each present class of each image:

    1. in the last epoch, a missing file is written unconditionally;
    2. otherwise a class whose sigmoid score is below ``min_prob`` (0.1) is skipped;
    3. a missing file is written, an existing one max-accumulated.
"""
import os
import os.path as osp
from typing import Optional

import numpy as np
from PIL import Image
from torch import Tensor

from mmwsss.utils.io import atomic_write_png, remove_stale_temp_files


def attention_png(att: Tensor) -> np.ndarray:
    """(h, w) map -> uint8 ``rint(relu(att) / (max + 1e-8) * 255)`` (the official encoding)."""
    a = att.detach().float().clamp(min=0).cpu().numpy()
    return np.rint(a / (a.max() + 1e-8) * 255).astype(np.uint8)


class AttentionAccumulator:
    """Max-accumulates class maps into ``folder`` (see the module doc).

    Args:
        folder: output folder (created).
        min_prob: the score below which a class is not accumulated (RCA 0.1).
        clean: remove a killed run's temporary files now (only one process may do it,
            before any process writes: ``RCAAttentionTerm`` lets rank 0 clean, then waits
            at a barrier).
    """

    def __init__(self, folder: str, min_prob: float = 0.1, clean: bool = True) -> None:
        self.folder = folder
        self.min_prob = float(min_prob)
        os.makedirs(folder, exist_ok=True)
        if clean:
            remove_stale_temp_files(folder)

    def path(self, key: str, cls: int) -> str:
        """``<folder>/<key>_<cls>.png`` (``cls`` is the 0-based foreground class)."""
        return osp.join(self.folder, f'{key}_{int(cls)}.png')

    def update(self, key: str, cls: int, att: Tensor, prob: float, last_epoch: bool) -> str:
        """Apply the official rule to one (image, class); returns what happened
        (``'written'``, ``'accumulated'``, ``'skipped'``)."""
        path = self.path(key, cls)
        new = attention_png(att)
        exists = osp.isfile(path)
        if last_epoch and not exists:
            atomic_write_png(path, new)
            return 'written'
        if prob < self.min_prob:
            return 'skipped'
        if not exists:
            atomic_write_png(path, new)
            return 'written'
        old = np.asarray(Image.open(path).convert('L'))
        if old.shape != new.shape:
            raise ValueError(f'{path} holds a {old.shape} map, the new one is {new.shape}: the '
                             'accumulated maps need a fixed input size per image (RCA resizes '
                             'every image to one size and does not crop)')
        atomic_write_png(path, np.maximum(old, new))
        return 'accumulated'

    def read(self, key: str, cls: int) -> Optional[np.ndarray]:
        """The accumulated uint8 map, or None if never written."""
        path = self.path(key, cls)
        return np.asarray(Image.open(path).convert('L')) if osp.isfile(path) else None


__all__ = ['AttentionAccumulator', 'attention_png']
