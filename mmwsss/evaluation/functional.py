"""Confusion matrices and per-class scores shared by :class:`CAMMetric` and
``tools/eval_pseudo_labels.py`` (one implementation for both).

Conventions:
    - ``K`` classes, index 0 is background, ``ignore_index`` (255) is ignore.
    - A confusion matrix is ``(..., K, K + 1)`` int64: rows are ground-truth
      classes, columns ``0..K-1`` are predicted classes and the last column
      counts pixels *predicted* ``ignore_index``. Pixels whose ground truth is
      ``ignore_index`` are never counted.
    - Predicted-ignore pixels count as "not predicted": they add to their GT
      class's false negatives (they lower recall and IoU) and to no class's
      predictions (precision is unaffected). A square ``(K, K)`` matrix (no
      ignore column) is accepted by every scoring function too.
    - Scores follow VOC / chainercv / mmseg: a class with an empty union
      (absent from every GT and every prediction) gets IoU nan and is left out
      of the mean; a class that is predicted but absent from the GT gets IoU 0
      and is kept.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from mmwsss.utils.checks import check_finite

ArrayLike = Union[np.ndarray, Tensor]

IGNORE_INDEX = 255

# Default background-threshold grid of the CAM sweep: 0.05, 0.06, ..., 0.95 (91
# values). It covers the 0.00-0.59 grids of SEAM / CPN and the 0.5+ thresholds
# of ToCo-style CAMs; rounding avoids arange drift (0.15000000000000002).
DEFAULT_THRESHOLDS: Tuple[float,
                          ...] = tuple(float(t) for t in np.round(np.arange(0.05, 0.955, 0.01), 2))


def _to_int_array(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f'{name} must be a numpy array or a tensor, got {type(x).__name__}')
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_):
        raise TypeError(f'{name} must hold integer class indices, got {x.dtype}')
    return x.astype(np.int64, copy=False)


def _check_range(x: ArrayLike, num_classes: int, ignore_index: int, what: str) -> None:
    bad = (x != ignore_index) & ((x < 0) | (x >= num_classes))
    if bad.any():
        values = (torch.unique(x[bad]) if isinstance(x, Tensor) else np.unique(x[bad])).tolist()
        raise ValueError(f'{what} has class indices {values[:10]} outside [0, '
                         f'{num_classes - 1}] (ignore index {ignore_index})')


def confusion_matrix(pred: ArrayLike,
                     gt: ArrayLike,
                     num_classes: int,
                     ignore_index: int = IGNORE_INDEX,
                     name: str = '') -> np.ndarray:
    """Confusion matrix of one or more label maps (computed on the CPU in numpy:
    label maps are small and torch's per-op overhead dominates at this size).

    Args:
        pred: predicted labels, any shape, values in ``0..K-1`` or ``ignore_index``.
        gt: ground-truth labels of the same shape.
        num_classes: ``K`` (background included).
        ignore_index: label of unlabelled pixels, in both maps.
        name: prefix for error messages (e.g. the file name).
    Returns:
        (K, K + 1) int64, rows GT, columns prediction, last column predicted-ignore.
    """
    where = f'{name}: ' if name else ''
    pred = _to_int_array(pred, 'pred')
    gt = _to_int_array(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'{where}prediction shape {tuple(pred.shape)} does not match '
                         f'ground-truth shape {tuple(gt.shape)}')
    _check_range(pred, num_classes, ignore_index, f'{where}prediction')
    _check_range(gt, num_classes, ignore_index, f'{where}ground truth')
    valid = gt != ignore_index
    gt, pred = gt[valid], pred[valid]
    pred = np.where(pred == ignore_index, num_classes, pred)  # predicted ignore -> column K
    counts = np.bincount(gt * (num_classes + 1) + pred, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1).astype(np.int64, copy=False)


def threshold_histogram(cams: Tensor,
                        gt: Tensor,
                        thresholds: Sequence[float],
                        img_labels: Optional[Tensor] = None,
                        ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Pixel counts by (number of thresholds below the CAM max, GT class, argmax + 1).

    ``cam_to_label`` gives a pixel label ``argmax + 1`` when its max (masked)
    CAM value ``v > t`` and 0 otherwise, so the label at every threshold only
    depends on ``j = #{t in thresholds : t < v}``: it is fg for the first ``j``
    thresholds and bg for the rest. Counting pixels once per (j, gt, argmax+1)
    is therefore a single bincount per image whatever the number of thresholds;
    :func:`histogram_to_confusion` turns it into one confusion matrix per
    threshold.

    Args:
        cams: (C, H, W) CAMs over the C foreground classes.
        gt: (H, W) or (1, H, W) labels in ``0..C`` or ``ignore_index``.
        thresholds: T background thresholds, sorted ascending.
        img_labels: optional (C,) multi-hot mask; absent classes never win.
        ignore_index: GT label of unlabelled pixels.
    Returns:
        (T + 1, K, K) int64 tensor with K = C + 1; column 0 is always empty.
    """
    if cams.dim() != 3:
        raise ValueError(f'cams must be (C, H, W), got shape {tuple(cams.shape)}')
    if gt.dim() == 3 and gt.shape[0] == 1:
        gt = gt[0]
    if gt.shape != cams.shape[1:]:
        raise ValueError(f'CAM size {tuple(cams.shape[1:])} does not match ground-truth '
                         f'size {tuple(gt.shape)}')
    check_finite(cams, 'cams')  # NaN / inf have no place in a threshold sweep
    num_fg = cams.shape[0]
    num_classes = num_fg + 1
    if isinstance(gt, np.ndarray):
        gt = torch.from_numpy(np.ascontiguousarray(gt))
    if gt.is_floating_point():
        raise TypeError(f'gt must hold integer class indices, got {gt.dtype}')
    gt = gt.long().to(cams.device)
    _check_range(gt, num_classes, ignore_index, 'ground truth')
    if img_labels is not None:
        if img_labels.shape != (num_fg, ):
            raise ValueError(f'img_labels shape {tuple(img_labels.shape)} does not match '
                             f'the {num_fg} CAM channels')
        # exactly cam_to_label's masking (multiplication, not -inf filling)
        cams = cams * img_labels.to(cams)[:, None, None]
    value, index = cams.max(0)
    # thresholds in the CAM dtype: cam_to_label compares `value <= t` in that dtype
    thr = torch.as_tensor(list(thresholds), dtype=cams.dtype, device=cams.device)
    if thr.numel() == 0:
        raise ValueError('thresholds is empty')
    if thr.numel() > 1 and (thr[1:] <= thr[:-1]).any():
        raise ValueError(f'thresholds must be strictly increasing, got {list(thresholds)}')
    valid = gt != ignore_index
    value, index, gt = value[valid], index[valid], gt[valid]
    # searchsorted (left) = number of thresholds strictly below value
    below = torch.searchsorted(thr, value.contiguous(), right=False)
    codes = (below * num_classes + gt) * num_classes + index + 1
    size = (thr.numel() + 1) * num_classes * num_classes
    hist = torch.bincount(codes, minlength=size)
    return hist.reshape(thr.numel() + 1, num_classes, num_classes)


def histogram_to_confusion(hist: ArrayLike) -> np.ndarray:
    """(T + 1, K, K) histogram of :func:`threshold_histogram` -> (T, K, K + 1).

    At threshold ``i`` a pixel with ``j`` thresholds below its max is fg when
    ``i < j`` (label argmax + 1) and background otherwise; the ignore column is
    empty (the sweep never predicts ignore).
    """
    if isinstance(hist, Tensor):
        hist = hist.cpu().numpy()
    hist = np.asarray(hist, dtype=np.int64)
    num_thr = hist.shape[0] - 1
    num_classes = hist.shape[1]
    # fg[i] = sum_{j > i} hist[j]; bg[i] = sum_{j <= i} hist[j] (summed over labels)
    rev = np.cumsum(hist[::-1], axis=0)[::-1]  # rev[i] = sum_{j >= i}
    fg = rev[1:]
    bg = np.cumsum(hist, axis=0)[:num_thr].sum(-1)
    conf = np.zeros((num_thr, num_classes, num_classes + 1), dtype=np.int64)
    conf[..., :num_classes] = fg
    conf[..., 0] += bg
    return conf


def sweep_confusion(cams: Tensor,
                    gt: Tensor,
                    thresholds: Sequence[float],
                    img_labels: Optional[Tensor] = None,
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Confusion matrices (T, K, K + 1) of ``cam_to_label(cams, t)`` for every t."""
    return histogram_to_confusion(
        threshold_histogram(cams, gt, thresholds, img_labels, ignore_index))


def _split(conf: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, GT totals, prediction totals), each (..., K)."""
    conf = np.asarray(conf, dtype=np.float64)
    k = conf.shape[-2]
    if conf.shape[-1] not in (k, k + 1):
        raise ValueError(f'confusion matrix must be (..., K, K) or (..., K, K + 1), '
                         f'got {conf.shape}')
    tp = np.diagonal(conf[..., :k], axis1=-2, axis2=-1)
    gt_total = conf.sum(-1)  # includes the predicted-ignore column
    pred_total = conf[..., :k].sum(-2)
    return tp, gt_total, pred_total


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def iou_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (GT + pred - TP), nan for an empty union; (..., K)."""
    tp, gt_total, pred_total = _split(conf)
    return _divide(tp, gt_total + pred_total - tp)


def precision_recall_from_confusion(conf: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class precision TP / pred and recall TP / GT, nan where 0 / 0; (..., K)."""
    tp, gt_total, pred_total = _split(conf)
    return _divide(tp, pred_total), _divide(tp, gt_total)


def nanmean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over ``axis`` ignoring nan; nan (without a warning) if all are nan."""
    x = np.asarray(x, dtype=np.float64)
    count = (~np.isnan(x)).sum(axis)
    total = np.nansum(x, axis)
    return _divide(total, count)


def pixel_accuracy(conf: np.ndarray) -> np.ndarray:
    """Correct / evaluated pixels (predicted-ignore pixels count as wrong); (...)."""
    tp, gt_total, _ = _split(conf)
    return _divide(tp.sum(-1), gt_total.sum(-1))


def segmentation_scores(conf: np.ndarray) -> Dict[str, np.ndarray]:
    """All scores of a confusion matrix (..., K, K[+1]).

    Returns:
        dict with per-class ``IoU``, ``Precision``, ``Recall`` (..., K) and
        ``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc`` (...), as fractions.
        Means skip nan classes.
    """
    iou = iou_from_confusion(conf)
    precision, recall = precision_recall_from_confusion(conf)
    return dict(
        IoU=iou,
        Precision=precision,
        Recall=recall,
        mIoU=nanmean(iou),
        mPrecision=nanmean(precision),
        mRecall=nanmean(recall),
        aAcc=pixel_accuracy(conf))


def format_table(class_names: Sequence[str], scores: Dict[str, np.ndarray]) -> str:
    """Per-class IoU / Precision / Recall table in percent (nan shown as 'nan')."""
    from prettytable import PrettyTable
    table = PrettyTable()
    table.field_names = ['Class', 'IoU', 'Precision', 'Recall']
    for i, name in enumerate(class_names):
        table.add_row([name] + [_pct(scores[key][i]) for key in ('IoU', 'Precision', 'Recall')])
    table.add_row(['mean'] + [_pct(scores[key]) for key in ('mIoU', 'mPrecision', 'mRecall')])
    for col in ('IoU', 'Precision', 'Recall'):
        table.align[col] = 'r'
    table.align['Class'] = 'l'
    return table.get_string()


def _pct(x: float) -> str:
    x = float(x)
    return 'nan' if np.isnan(x) else f'{100 * x:.2f}'


def to_json_float(x: float, ndigits: int = 6) -> Optional[float]:
    """A float for JSON: nan -> None (JSON has no NaN)."""
    x = float(x)
    return None if np.isnan(x) else round(x, ndigits)
