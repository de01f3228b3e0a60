"""A tiny histology release cut from a REAL immunohistochemistry photograph.

scikit-image ships ``skimage.data.immunohistochemistry()`` (512 x 512 RGB, a stained
human colon tissue section). :func:`make_histo_tiny` cuts patches from it at fixed
offsets and writes them in the BCSS-WSSS / LUAD-HistoSeg release layout with small label
strings and masks that are checkable by hand (nothing binary is committed).
"""
import os
import os.path as osp
from typing import Dict

import numpy as np
from PIL import Image

# training patches: (file-name stem without label, label digits)
TRAIN_LABELS = [('p0', '1010'), ('p1', '0110'), ('p2', '1001'), ('p3', '1111')]
# val patches: raw masks (tissue 0..3, 4 = background) as quadrant layouts on side x side
#   v0: top half left TUM(0) / right LYM(2); bottom half background (4)
#   v1: left half STR(1), right half NEC(3)
VAL_NAMES = ('v0', 'v1')


def val_raw_masks(side: int) -> Dict[str, np.ndarray]:
    h = side // 2
    m0 = np.full((side, side), 4, np.uint8)
    m0[:h, :h], m0[:h, h:] = 0, 2
    m1 = np.empty((side, side), np.uint8)
    m1[:, :h], m1[:, h:] = 1, 3
    return {'v0': m0, 'v1': m1}


def label_name(stem: str, digits: str, dataset: str) -> str:
    """``p0`` + ``1010`` -> ``p0+0[1010]`` (BCSS-WSSS) or ``p0-[1 0 1 0]`` (LUAD)."""
    if dataset == 'bcss-wsss':
        return f'{stem}+0[{digits}]'
    return f'{stem}-[{" ".join(digits)}]'


def make_histo_tiny(root: str, dataset: str = 'bcss-wsss', side: int = 32) -> dict:
    """Write ``training/``, ``val/img``, ``val/mask`` (and ``test/`` = val) under ``root``.

    Patch i is the ``side`` x ``side`` window at (40 + 70 i, 60 + 50 i) of the IHC image.
    Returns dict(root, train={name: digits}, val_masks={stem: raw mask}).
    """
    from skimage import data as skdata
    photo = skdata.immunohistochemistry()  # (512, 512, 3) uint8, real tissue
    names = [s for s, _ in TRAIN_LABELS] + list(VAL_NAMES)
    patches = {}
    for i, stem in enumerate(names):
        y, x = 40 + 70 * i, 60 + 50 * i
        patches[stem] = np.ascontiguousarray(photo[y:y + side, x:x + side])
    os.makedirs(osp.join(root, 'training'), exist_ok=True)
    train = {}
    for stem, digits in TRAIN_LABELS:
        name = label_name(stem, digits, dataset) + '.png'
        Image.fromarray(patches[stem]).save(osp.join(root, 'training', name))
        train[name] = digits
    masks = val_raw_masks(side)
    for split in ('val', 'test'):
        for sub in ('img', 'mask'):
            os.makedirs(osp.join(root, split, sub), exist_ok=True)
        for stem in VAL_NAMES:
            Image.fromarray(patches[stem]).save(osp.join(root, split, 'img', stem + '.png'))
            mask = Image.fromarray(masks[stem], mode='L').convert('P')
            mask.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 153, 0, 255, 255, 255, 255])
            mask.save(osp.join(root, split, 'mask', stem + '.png'))
    return dict(root=root, train=train, val_masks=masks)
