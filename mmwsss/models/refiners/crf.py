"""Dense CRF (Krähenbühl & Koltun) refiner on top of ``pydensecrf2``.

Two unary forms, as the official WSSS code uses them:

* ``'softmax'``: U = -log(clip(p, 1e-5)) (pydensecrf's ``unary_from_softmax``)
  on bg + fg scores. PSA / SEAM / ToCo ``crf_inference`` feed
  [(1 - max cam) ** alpha, cams] of the present classes (not renormalised).
* ``'label'``: IRN's ``crf_inference_label``: a hard label map with
  U = -log(gt_prob) for the given label and -log((1 - gt_prob) / (n - 1)) for
  the others (``unary_from_labels(..., zero_unsure=False)``).

Only bg and the image's classes go to the CRF (n = 1 + #present labels), as
in the official code; results are mapped back to the full class range.

The CRF reads the image as a C-contiguous (H, W, 3) uint8 RGB array. Note that
with one ``srgb`` for all channels the bilateral kernel is symmetric in the
colour channels: RGB and BGR differ only through the permutohedral-lattice
approximation. What does change results is CLIP-ES's input (cv2 BGR minus
the mean, cast to uint8 so negatives wrap around); we do not reproduce it.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, add_background, cam_to_label
from .base import BaseRefiner, RefineState

# Settings of the official code (reference notes, dense CRF table). ``gaussian``:
# (sxy, compat); ``bilateral``: (sxy, srgb, compat).
CRF_PRESETS: Dict[str, dict] = {
    # PSA / SEAM / ACR / ToCo ``crf_inference`` (CAM -> seeds): softmax unary.
    'psa': dict(unary='softmax', num_iter=10, gaussian=(3, 3), bilateral=(80, 13, 10)),
    # IRN ``crf_inference_label`` (IR labels): label unary, gt_prob 0.7.
    'irn_label':
    dict(unary='label', num_iter=10, gaussian=(3, 3), bilateral=(50, 5, 10), gt_prob=0.7),
    # ToCo / DuPL final segmentation post-processing (``DenseCRF`` class).
    'toco_seg': dict(unary='softmax', num_iter=10, gaussian=(1, 1), bilateral=(121, 5, 4)),
    # MoRe ``infer_seg_voc.py``, BECO ``utils/crf.py``, CLIP-ES pseudo masks.
    'more_beco': dict(unary='softmax', num_iter=10, gaussian=(1, 3), bilateral=(67, 3, 4)),
    # CLIP-ES ``eval_cam_with_crf.py`` (bg = 1 - max cam; CGL: confidence < 0.95 -> 255).
    'clip_es': dict(unary='softmax', num_iter=10, gaussian=(1, 3), bilateral=(67, 3, 4)),
    # AFA test and WeCLIP test (author's settings).
    'afa': dict(unary='softmax', num_iter=10, gaussian=(3, 3), bilateral=(64, 5, 4)),
}


def _import_dcrf():
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('DenseCRF needs pydensecrf2 (pip install pydensecrf2==1.1, '
                          'see requirements/runtime.txt)') from e
    return dcrf


def crf_image(img: Tensor) -> np.ndarray:
    """(3, H, W) uint8 RGB tensor -> writable C-contiguous (H, W, 3) uint8 array."""
    if img.dim() != 3 or img.shape[0] != 3:
        raise ValueError(f'expected a (3, H, W) image, got {tuple(img.shape)}')
    if img.dtype != torch.uint8:
        raise TypeError(f'the CRF image must be uint8 RGB, got {img.dtype}')
    return np.array(img.permute(1, 2, 0).cpu().numpy(), dtype=np.uint8, order='C')


def softmax_unary(probs: np.ndarray, clip: float = 1e-5) -> np.ndarray:
    """(n, H, W) probabilities -> (n, H*W) float32 -log(clip(p, clip, 1))."""
    p = np.clip(probs.reshape(probs.shape[0], -1), clip, 1.0)
    return np.ascontiguousarray(-np.log(p), dtype=np.float32)


def label_unary(label: np.ndarray, n_labels: int, gt_prob: float) -> np.ndarray:
    """(H, W) labels in 0..n-1 (-1: unsure) -> (n, H*W) float32 unary.

    -log(gt_prob) for the given label, -log((1 - gt_prob) / (n - 1)) for the
    others; unsure pixels (e.g. 255 in the input) get the uniform -log(1 / n).
    """
    if not 0 < gt_prob < 1:
        raise ValueError(f'gt_prob must be in (0, 1), got {gt_prob}')
    if n_labels < 2:
        raise ValueError('the label unary needs at least 2 labels')
    flat = label.reshape(-1)
    unary = np.full((n_labels, flat.size),
                    -np.log((1.0 - gt_prob) / (n_labels - 1)),
                    dtype=np.float32)
    known = flat >= 0
    unary[flat[known], np.nonzero(known)[0]] = -np.log(gt_prob)
    unary[:, ~known] = -np.log(1.0 / n_labels)
    return unary


def dense_crf(
    img: np.ndarray,
    unary: np.ndarray,
    num_iter: int = 10,
    gaussian: Sequence[float] = (3, 3),
    bilateral: Sequence[float] = (80, 13, 10)
) -> np.ndarray:
    """Mean-field inference of a fully connected CRF with Potts compatibilities.

    Args:
        img: (H, W, 3) uint8 RGB, C-contiguous.
        unary: (n, H*W) float32 energies.
        num_iter: mean-field iterations.
        gaussian: (sxy, compat) of the position kernel.
        bilateral: (sxy, srgb, compat) of the appearance kernel.
    Returns:
        (n, H, W) float32 marginals Q.
    """
    dcrf = _import_dcrf()
    h, w = img.shape[:2]
    n = unary.shape[0]
    if unary.shape[1] != h * w:
        raise ValueError(f'unary has {unary.shape[1]} pixels, image has {h}x{w}')
    crf = dcrf.DenseCRF2D(w, h, n)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=gaussian[0], compat=gaussian[1])
    crf.addPairwiseBilateral(
        sxy=bilateral[0],
        srgb=bilateral[1],
        rgbim=np.ascontiguousarray(img, dtype=np.uint8),
        compat=bilateral[2])
    q = crf.inference(int(num_iter))
    return np.array(q, dtype=np.float32).reshape(n, h, w)


@MODELS.register_module()
class DenseCRF(BaseRefiner):
    """Dense CRF refiner.

    Reads ``img`` ((B, 3, H, W) uint8 RGB), ``img_labels`` and, depending on
    ``unary``:

    * ``'softmax'``: ``scores`` (B, 1 + C, H, W) if set, else bg + ``cams``
      with bg = (1 - max of the present classes' CAMs) ** ``bg_power`` (PSA) or
      the constant ``bg_score``. Writes ``scores`` = the CRF marginals of bg
      and the present classes (zeros for absent classes).
    * ``'label'``: ``label`` (B, H, W) if set (255 = unsure, uniform unary),
      else ``cam_to_label(cams, bg_thr=bg_score)`` (IRN's argmax over
      [bg_score, cams]). Writes ``label`` = argmax of the marginals.

    ``output`` picks what is written: ``'scores'`` (also clears a stale
    ``label``), ``'label'`` or ``'both'``; default: ``'scores'`` for the
    softmax unary, ``'label'`` for the label unary. Pixels where
    ``valid_mask`` is False become 255 in a written label.

    Args:
        preset: a key of :data:`CRF_PRESETS` giving the defaults of the
            arguments below; explicit arguments override it.
        unary: ``'softmax'`` or ``'label'``.
        num_iter: mean-field iterations (10 everywhere in the official code).
        gaussian: (sxy, compat).
        bilateral: (sxy, srgb, compat).
        gt_prob: label-unary confidence (IRN 0.7).
        bg_power: PSA's alpha (4 / 24 / 32 ...) for bg from CAMs.
        bg_score: constant bg (softmax: bg score; label: bg threshold).
        restrict_to_labels: pass only bg + present classes to the CRF (the
            official behaviour); False uses all 1 + C (seg post-processing).
        ignore_below: in a written label, 255 where the top CRF marginal is
            below this (CLIP-ES's confidence-guided loss uses 0.95). None: off.
    """

    def __init__(self,
                 preset: Optional[str] = None,
                 unary: Optional[str] = None,
                 num_iter: Optional[int] = None,
                 gaussian: Optional[Sequence[float]] = None,
                 bilateral: Optional[Sequence[float]] = None,
                 gt_prob: Optional[float] = None,
                 bg_power: Optional[float] = None,
                 bg_score: Optional[float] = None,
                 output: Optional[str] = None,
                 restrict_to_labels: bool = True,
                 ignore_below: Optional[float] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if preset is not None and preset not in CRF_PRESETS:
            raise ValueError(f"unknown CRF preset '{preset}', choose from "
                             f'{sorted(CRF_PRESETS)}')
        cfg = dict(
            unary='softmax', num_iter=10, gaussian=(3, 3), bilateral=(80, 13, 10), gt_prob=0.7)
        cfg.update(CRF_PRESETS.get(preset, {}))
        given = dict(
            unary=unary, num_iter=num_iter, gaussian=gaussian, bilateral=bilateral, gt_prob=gt_prob)
        cfg.update({k: v for k, v in given.items() if v is not None})
        if cfg['unary'] not in ('softmax', 'label'):
            raise ValueError(f"unary must be 'softmax' or 'label', got '{cfg['unary']}'")
        if len(cfg['gaussian']) != 2 or len(cfg['bilateral']) != 3:
            raise ValueError('gaussian is (sxy, compat), bilateral is (sxy, srgb, compat)')
        if bg_power is not None and bg_score is not None:
            raise ValueError('give at most one of bg_power and bg_score')
        output = output or ('scores' if cfg['unary'] == 'softmax' else 'label')
        if output not in ('scores', 'label', 'both'):
            raise ValueError(f"output must be 'scores', 'label' or 'both', got '{output}'")
        self.unary = cfg['unary']
        self.num_iter = int(cfg['num_iter'])
        self.gaussian: Tuple[float, ...] = tuple(cfg['gaussian'])
        self.bilateral: Tuple[float, ...] = tuple(cfg['bilateral'])
        self.gt_prob = float(cfg['gt_prob'])
        self.bg_power = bg_power
        self.bg_score = bg_score
        self.output = output
        self.restrict_to_labels = restrict_to_labels
        self.ignore_below = ignore_below

    # -- inputs ---------------------------------------------------------------
    def _keys(self, state: RefineState, num_classes: int, device) -> Tensor:
        """(B, 1 + C) bool: bg + the classes given to the CRF per image."""
        b = state['cams'].shape[0]
        keep = torch.ones(b, 1 + num_classes, dtype=torch.bool, device=device)
        labels = state.get('img_labels')
        if self.restrict_to_labels and labels is not None:
            keep[:, 1:] = labels.to(device) > 0
        return keep

    def _scores(self, state: RefineState) -> Tensor:
        cams = state['cams']
        scores = state.get('scores')
        if scores is not None:
            if scores.dim() != 4 or scores.shape[0] != cams.shape[0] or \
                    scores.shape[1] != cams.shape[1] + 1 or scores.shape[-2:] != cams.shape[-2:]:
                raise ValueError(f"'scores' {tuple(scores.shape)} must be (B, 1 + C, H, W) "
                                 f'for cams {tuple(cams.shape)}')
            if torch.isnan(scores).any():
                raise ValueError("'scores' contain NaN values")
            return scores.float()
        labels = state.get('img_labels')
        fg = cams if labels is None else cams * labels[..., None, None].to(cams)
        if self.bg_power is not None:
            return add_background(fg, power=self.bg_power)
        if self.bg_score is not None:
            return add_background(fg, bg=self.bg_score)
        raise ValueError("DenseCRF with the softmax unary needs 'scores' in the state, "
                         'or bg_power / bg_score to build them from cams')

    def _label(self, state: RefineState) -> Tensor:
        if state.get('label') is not None:
            return state['label']
        if self.bg_score is None:
            raise ValueError("DenseCRF with the label unary needs 'label' in the state, "
                             'or bg_score to build it from cams')
        return cam_to_label(state['cams'], state.get('img_labels'), bg_thr=self.bg_score)

    # -- refinement -----------------------------------------------------------
    def refine(self, state: RefineState) -> RefineState:
        img = state.get('img')
        if img is None:
            raise KeyError("DenseCRF needs 'img' ((B, 3, H, W) uint8 RGB) in the refine state")
        if img.dtype != torch.uint8:
            raise TypeError(f"DenseCRF needs 'img' as uint8 RGB, got {img.dtype}")
        cams = state['cams']
        b, c, h, w = cams.shape
        keep = self._keys(state, c, cams.device)
        if self.unary == 'softmax':
            source = self._scores(state).cpu().numpy()
        else:
            label = self._label(state)
            keep = keep | _classes_in(label, c + 1)  # a label class always has a channel
            label_np = label.cpu().numpy()
        out = torch.zeros(b, c + 1, h, w)
        for i in range(b):  # one CRF per image (the CRF itself is C++)
            keys = keep[i].nonzero().flatten().cpu().numpy()
            if self.unary == 'softmax':
                unary = softmax_unary(source[i, keys])
            else:
                unary = label_unary(_compact(label_np[i], keys), len(keys), self.gt_prob)
            q = dense_crf(crf_image(img[i]), unary, self.num_iter, self.gaussian, self.bilateral)
            out[i, torch.from_numpy(keys)] = torch.from_numpy(q)
        out = out.to(cams.device)
        if self.output in ('scores', 'both'):
            state['scores'] = out
            state['label'] = None
        if self.output in ('label', 'both'):
            conf, label = out.masked_fill(~keep[..., None, None], float('-inf')).max(1)
            if self.ignore_below is not None:
                label[conf < self.ignore_below] = IGNORE_INDEX
            if state.get('valid_mask') is not None:
                label[~state['valid_mask'].bool()] = IGNORE_INDEX
            state['label'] = label
        return state


def _classes_in(label: Tensor, num: int) -> Tensor:
    """(B, num) bool: which classes (0..num-1) occur in each (B, H, W) label map."""
    flat = label.flatten(1).long()
    valid = flat != IGNORE_INDEX
    hits = torch.zeros(label.shape[0], num + 1, dtype=torch.bool, device=label.device)
    hits.scatter_(1, torch.where(valid, flat, torch.full_like(flat, num)), True)
    return hits[:, :num]


def _compact(label: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Map class indices to positions in ``keys``; 255 (and unknown) -> -1."""
    lut = np.full(256, -1, dtype=np.int64)
    lut[keys] = np.arange(len(keys))
    return lut[np.clip(label.astype(np.int64), 0, 255)]
