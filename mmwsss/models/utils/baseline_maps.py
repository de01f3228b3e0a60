"""Per-image baseline probability maps (PSDPM's ``gt``), read without pickle.

PSDPM (Zhao et al., CVPR'24) trains on the segmentation probability maps of a baseline
method: the official loop reads ``np.load('/gtimg1/<name>.npy', allow_pickle=True)
.item()['msc_seg']``, a pickled dict holding a (1 + C, H, W) softmax map at the image size.
A pickled file can run code, so it is never read here. Accepted instead, per image, in one
folder (``<dir>/<key>.npy``, ``<dir>/<key>.npz`` or the same under ``<dir>/cams/``; the key
is the image stem or its relative path, as :mod:`~.cam_files` finds CAM files):

* ``<key>.npy``: ONE plain float array (1 + C, H, W), channel 0 = background (a DeepLab
  softmax: the official ``msc_seg``);
* ``<key>.npz`` with an array ``msc_seg`` (1 + C, H, W) (the official dict's entry, saved as
  a plain archive);
* ``<key>.npz`` with ``keys`` / ``cams``: this project's CAM files
  (``tools/generate_pseudo_labels.py --save-cams``): foreground CAMs of the listed classes,
  scattered into (C, H, W); the background is ``1 - max_c`` (``bg='one_minus_max'``, as
  POT completes its CLIP-ES CAMs) or a constant.

Every read is ``allow_pickle=False``; a missing file, an object array, a wrong channel
count, a non-3-D array or a non-finite value is an error naming the file (the official
``eval_cam.py`` silently skips missing files, which biases any mIoU).
"""
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.io import load_npz
from .cam_files import cam_file_candidates, scatter_keyed_cams


def baseline_file_candidates(map_dir: str, img_path: str) -> list:
    """``.npy`` then ``.npz`` candidates of :func:`~.cam_files.cam_file_candidates`."""
    npz = cam_file_candidates(map_dir, img_path)
    return [p[:-4] + '.npy' for p in npz] + npz


def find_baseline_file(map_dir: str, img_path: str) -> str:
    """The first existing candidate, else a FileNotFoundError naming image and folder."""
    for path in baseline_file_candidates(map_dir, img_path):
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'no baseline probability map for image {img_path} in {map_dir} (looked for '
        '<key>.npy / <key>.npz and cams/<key>.*, key = the image stem or its relative path); '
        'PSDPM needs one per training image (a missing file is never skipped)')


def _load_npy(path: str) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:  # an object array / pickled dict (the official format)
        raise ValueError(f'baseline map {path} needs pickle to be read ({e}); refusing it: '
                         'save the (1 + C, H, W) float array itself (np.save(path, arr)) or '
                         'an .npz with an array "msc_seg"') from None
    except Exception as e:  # truncated / not an npy file
        raise ValueError(f'baseline map {path} is not a valid .npy file: '
                         f'{type(e).__name__}: {e}') from None
    if isinstance(arr, np.lib.npyio.NpzFile):  # an .npz archive under an .npy name
        arr.close()
        raise ValueError(f'baseline map {path} is an .npz archive; name it .npz')
    return arr


def _check_probs(arr: np.ndarray, path: str, num_channels: int) -> Tensor:
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f'baseline map {path}: dtype {arr.dtype}, expected a float array')
    if arr.ndim == 4 and arr.shape[0] == 1:  # the official (1, K, H, W) ``.squeeze()``
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[0] != num_channels:
        raise ValueError(f'baseline map {path}: shape {arr.shape}, expected '
                         f'({num_channels}, H, W) (channel 0 = background)')
    if not np.isfinite(arr).all():
        raise ValueError(f'baseline map {path} holds non-finite values')
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def load_baseline_probs(map_dir: str,
                        img_path: str,
                        num_classes: int,
                        size: Optional[Tuple[int, int]] = None,
                        flip: bool = False,
                        bg: Union[str, float] = 'one_minus_max',
                        align_corners: bool = False) -> Tensor:
    """(1 + C, h, w) float32 baseline map of one image.

    Args:
        map_dir: the folder.
        img_path: the image (its key finds the file).
        num_classes: C foreground classes.
        size: output grid (bilinear, ``align_corners``: the official
            ``F.interpolate(..., mode='bilinear')``, i.e. False); None keeps the file's size.
        flip: flip horizontally (a flipped training view; PSDPM's VOC loader never flips).
        bg: background of a ``keys`` / ``cams`` CAM file: ``'one_minus_max'`` or a
            constant; ignored for full (1 + C) maps.
        align_corners: of the resize.
    """
    path = find_baseline_file(map_dir, img_path)
    k = num_classes + 1
    if path.endswith('.npy'):
        probs = _check_probs(_load_npy(path), path, k)
    else:
        data = load_npz(path, 'baseline map')
        if 'msc_seg' in data:
            probs = _check_probs(data['msc_seg'], path, k)
        elif {'keys', 'cams'} <= set(data):
            fg = scatter_keyed_cams(data, path, num_classes)
            bgmap = (1 - fg.max(0, keepdim=True)[0]).clamp(min=0) if bg == 'one_minus_max' \
                else torch.full_like(fg[:1], float(bg))
            probs = torch.cat([bgmap, fg], 0)
        else:
            raise KeyError(f'baseline map {path}: no "msc_seg" nor "keys"/"cams" arrays '
                           f'(has {sorted(data)})')
    if flip:
        probs = probs.flip(-1)
    if size is not None and tuple(probs.shape[-2:]) != tuple(size):
        probs = F.interpolate(
            probs[None], size=tuple(size), mode='bilinear', align_corners=align_corners)[0]
    return probs


def load_batch_baseline_probs(map_dir: str,
                              samples: Sequence,
                              num_classes: int,
                              sizes: Sequence[Tuple[int, int]],
                              bg: Union[str, float] = 'one_minus_max') -> list:
    """Per grid in ``sizes``, (B, 1 + C, h, w): one file read per image for all grids
    (the official resizes the full-size map to each grid, never one grid to another)."""
    outs = [[] for _ in sizes]
    for s in samples:
        meta = s.metainfo if hasattr(s, 'metainfo') else dict(s)
        flip = bool(meta.get('flip', False)) and meta.get('flip_direction',
                                                          'horizontal') == 'horizontal'
        full = load_baseline_probs(map_dir, meta['img_path'], num_classes, None, flip, bg)
        for out, size in zip(outs, sizes):
            out.append(
                F.interpolate(full[None], size=tuple(size), mode='bilinear', align_corners=False
                              )[0] if tuple(full.shape[-2:]) != tuple(size) else full)
    return [torch.stack(o) for o in outs]
