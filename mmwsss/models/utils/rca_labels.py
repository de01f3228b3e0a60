"""RCA's pseudo labels from accumulated attention maps (maeve07/RCA ``gen_labels.py::gen_gt``).

Per image: the accumulated map of every present class is min-max normalised, a dense CRF
(psa's ``crf_inference``: unary -log p, Gaussian (3, 3), bilateral (80, 13, 10), 10 steps)
runs on ``[(1 - max_c att)^4, att_1, ...]``; then

    - with a saliency map (the official input, PoolNet in the paper's release): the
      background score is ``1 - sal / 255``, and the saliency is united with every class's
      ``att > 0.8`` region; pixels labelled background inside that union (>= 32) -> 255;
    - without one (optional here; the official script always reads it): the background score
      is the CRF's background channel, the union is the ``att > 0.8`` regions alone;
    - pixels where more than one channel exceeds 0.9 (``conflict``) -> 255;
    - an image whose valid foreground covers < 1 % -> all 255.

Labels are VOC indices: 0 background, c + 1 for foreground class c, 255 ignore.
"""
from typing import Dict, Optional

import numpy as np

from ..refiners.crf import CRF_PRESETS, dense_crf, softmax_unary


def minmax(att: np.ndarray) -> np.ndarray:
    """``(att - min) / (max - min + 1e-8)``, as ``gen_gt`` normalises each map."""
    att = att.astype(np.float64)
    return (att - att.min()) / (att.max() - att.min() + 1e-8)


def rca_crf(img: np.ndarray,
            atts: Dict[int, np.ndarray],
            alpha: float = 4,
            t: int = 10) -> Dict[int, np.ndarray]:
    """``_crf_with_alpha``: {0: bg marginal, c + 1: class c's marginal}.

    Args:
        img: (H, W, 3) uint8 (the official passes cv2's BGR; the bilateral kernel treats the
            three channels alike, so the order does not matter).
        atts: {class c: (H, W) map in [0, 1]}, in the order the classes are listed.
    """
    keys = list(atts)
    v = np.stack([atts[k] for k in keys]).astype(np.float32)
    bg = np.power(1 - v.max(0, keepdims=True), alpha)
    preset = CRF_PRESETS['psa']
    q = dense_crf(
        np.array(img, dtype=np.uint8, order='C'),  # a writable copy (pydensecrf needs one)
        softmax_unary(np.concatenate([bg, v], 0)),
        num_iter=t,
        gaussian=preset['gaussian'],
        bilateral=preset['bilateral'])
    out = {0: q[0]}
    for i, k in enumerate(keys):
        out[k + 1] = q[i + 1]
    return out


def rca_pseudo_label(img: np.ndarray,
                     atts: Dict[int, np.ndarray],
                     saliency: Optional[np.ndarray] = None,
                     alpha: float = 4,
                     t: int = 10,
                     conflict: float = 0.9,
                     bg_thr: float = 32,
                     att_thr: float = 0.8,
                     min_valid: float = 0.01) -> np.ndarray:
    """One image's RCA pseudo label (see the module doc).

    Args:
        img: (H, W, 3) uint8.
        atts: {foreground class c (0-based): (H, W) accumulated map at the image size, any
            scale (min-max normalised here)}; only the present classes.
        saliency: (H, W) uint8 saliency (0..255), or None.
    Returns:
        (H, W) uint8 labels.
    """
    h, w = img.shape[:2]
    if not atts:
        return np.full((h, w), 255, dtype=np.uint8)
    atts = {k: minmax(a) for k, a in atts.items()}
    crf = rca_crf(img, atts, alpha, t)
    num = max(atts) + 2
    gt = np.zeros((num, h, w), dtype=np.float32)
    if saliency is not None:
        sal = saliency.astype(np.float32)
        gt[0] = 1 - sal / 255
        union = sal.copy()
    else:
        gt[0] = crf[0]
        union = np.zeros((h, w), dtype=np.float32)
    for k in atts:
        gt[k + 1] = crf[k + 1]
        union = np.maximum(union, (crf[k + 1] > att_thr) * 255)
    many = (gt > conflict).sum(0)
    label = gt.argmax(0).astype(np.uint8)
    label[many > 1] = 255
    label[(union >= bg_thr) & (label == 0)] = 255
    valid = ((label > 0) & (label < 255)).sum()
    if valid / float(h * w) < min_valid:
        label[...] = 255
    return label
