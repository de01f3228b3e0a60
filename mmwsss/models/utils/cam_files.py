"""Per-image CAM files written by the project's tools, read back as dense tensors.

``tools/generate_pseudo_labels.py --save-cams`` (e.g. on a CLIP-ES config) and
``CAMMetric(output_dir=...)`` (``tools/test.py --out``) write ``<dir>/cams/<key>.npz``
holding ``keys`` (K,) foreground indices (0-based, channel k = class k + 1) and ``cams``
(K, H, W) at the image's original size; ``<key>`` is the image path relative to the
dataset's image folder, without extension (:func:`mmwsss.utils.io.output_key`).
POT trains on such CLIP-ES CAMs (``attn_highres`` of the official ``cams_71`` folder).
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.io import read_cams_npz


def cam_file_candidates(cam_dir: str, img_path: str) -> List[str]:
    """Where ``img_path``'s npz may be: ``<cam_dir>/<key>.npz`` for the file stem, then
    for longer relative paths (``a/01``, ``images/a/01``...), since the key depends on the
    image folder the writer was given. ``<cam_dir>/cams/`` is searched too."""
    parts = osp.splitext(osp.normpath(img_path))[0].split(osp.sep)
    keys = ['/'.join(parts[-n:]) for n in range(1, len(parts)) if parts[-n]]
    roots = [cam_dir, osp.join(cam_dir, 'cams')]
    return [osp.join(r, k + '.npz') for r in roots for k in keys]


def find_cam_file(cam_dir: str, img_path: str) -> str:
    """The first existing candidate of :func:`cam_file_candidates`, else an error naming
    the image and the folder."""
    for path in cam_file_candidates(cam_dir, img_path):
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no CAM file for image {img_path} in {cam_dir} (looked for '
                            f'<key>.npz and cams/<key>.npz, key = the image stem or its '
                            'relative path); write them with tools/generate_pseudo_labels.py '
                            '--save-cams')


def load_dense_cams(cam_dir: str,
                    img_path: str,
                    num_classes: int,
                    size: Optional[Tuple[int, int]] = None,
                    align_corners: bool = False,
                    flip: bool = False) -> Tensor:
    """(C, h, w) float32 fg CAMs of one image: the file's maps scattered into their
    classes (absent classes 0), optionally flipped horizontally and bilinearly resized.

    Args:
        cam_dir: the folder given to ``--out-dir`` / ``--out``.
        img_path: the image (its key finds the file).
        num_classes: C foreground classes.
        size: output grid (None: the file's size).
        align_corners: of the resize (POT: False in training, True at inference).
        flip: flip horizontally first (a flipped training view).
    """
    path = find_cam_file(cam_dir, img_path)
    out = scatter_keyed_cams(read_cams_npz(path), path, num_classes)
    if flip:
        out = out.flip(-1)
    if size is not None and tuple(out.shape[-2:]) != tuple(size):
        out = F.interpolate(
            out[None], size=tuple(size), mode='bilinear', align_corners=align_corners)[0]
    return out


def scatter_keyed_cams(data: dict, path: str, num_classes: int) -> Tensor:
    """(C, H, W) float32 fg maps of a ``keys`` (K,) / ``cams`` (K, H, W) file, scattered
    into their classes (absent classes 0); errors name ``path``."""
    keys = np.asarray(data['keys']).astype(np.int64).reshape(-1)
    cams = np.asarray(data['cams'])
    if cams.ndim != 3 or cams.shape[0] != keys.size:
        raise ValueError(f'CAM file {path}: cams {cams.shape} does not match keys {keys.shape}')
    if keys.size and (keys.min() < 0 or keys.max() >= num_classes):
        raise ValueError(f'CAM file {path}: keys {keys.tolist()} outside [0, {num_classes})')
    if not np.isfinite(cams).all():
        raise ValueError(f'CAM file {path} holds non-finite values')
    out = torch.zeros((num_classes, *cams.shape[-2:]), dtype=torch.float32)
    if keys.size:
        out[torch.from_numpy(keys)] = torch.from_numpy(cams.astype(np.float32))
    return out


def load_batch_cams(cam_dir: str,
                    samples: Sequence,
                    num_classes: int,
                    size: Tuple[int, int],
                    align_corners: bool = False) -> Tensor:
    """(B, C, h, w) dense CAMs of a batch of data samples (``img_path``, ``flip`` metainfo)."""
    out = []
    for s in samples:
        meta = s.metainfo if hasattr(s, 'metainfo') else dict(s)
        flip = bool(meta.get('flip', False)) and meta.get('flip_direction',
                                                          'horizontal') == 'horizontal'
        out.append(
            load_dense_cams(cam_dir, meta['img_path'], num_classes, size, align_corners, flip))
    return torch.stack(out)
