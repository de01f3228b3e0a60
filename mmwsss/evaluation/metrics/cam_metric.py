"""mIoU of CAM seeds and pseudo labels, with a background-threshold sweep.

In WSSS, seeds and pseudo labels are scored on the *training* images, whose GT
masks serve for evaluation only. The standard protocol (SEAM / IRN / CPN
``--curve``) grid-searches the background threshold against the GT and reports
the best one; :class:`CAMMetric` does this in one pass over the data.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmwsss.registry import METRICS
from mmwsss.structures.img_labels import img_label_of
from mmwsss.utils.checks import check_finite
from mmwsss.utils.io import (atomic_save_npz, atomic_write_json, atomic_write_png, output_key,
                             read_cams_npz)
from ..functional import (DEFAULT_THRESHOLDS, IGNORE_INDEX, confusion_matrix, format_table,
                          histogram_to_confusion, nanmean, segmentation_scores, threshold_histogram,
                          to_json_float)


def _field(sample: Any, key: str) -> Any:
    """``sample[key]`` for dicts (Evaluator.process converts samples with
    ``to_dict``) and data elements alike; None when absent."""
    return sample.get(key, None)


def _pixel_data(value: Any) -> Optional[Tensor]:
    """The tensor of a PixelData / its ``to_dict()`` / a bare tensor or array."""
    if value is None:
        return None
    if isinstance(value, BaseDataElement):
        value = value.get('data', None)
    elif isinstance(value, dict):
        value = value.get('data', None)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    return value


def _sparse(dense: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Non-zero flat indices and counts: per-image results stay a few KB even
    for COCO (81 classes x 91 thresholds would be 4.8 MB dense)."""
    flat = dense.reshape(-1)
    idx = np.flatnonzero(flat)
    return idx.astype(np.int64), flat[idx].astype(np.int64)


def _dense(results: List[dict], shape: Tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    idx = np.concatenate([res['idx'] for res in results])
    cnt = np.concatenate([res['cnt'] for res in results]).astype(np.float64)
    # float64 sums are exact up to 2**53 pixels
    total = np.rint(np.bincount(idx, weights=cnt, minlength=size)).astype(np.int64)
    return total.reshape(shape)


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """mIoU of CAM seeds (threshold sweep) or pseudo labels.

    Per data sample (a model's predict output) it reads ``gt_sem_seg``
    (1, H, W) with 255 ignore and either

    - ``cams`` PixelData (C, H, W), floats in [0, 1] over the C foreground
      classes at the original image size. They are masked again with the
      metainfo ``img_labels`` (or ``gt_img_label``) when present, then labelled
      exactly like :func:`mmwsss.models.utils.cam.cam_to_label`: argmax + 1,
      background where the max is <= t. Modes:

        * sweep (default): one confusion matrix per threshold in
          ``thresholds``, computed in a single bincount per image; reports the
          best threshold, its mIoU and the whole curve;
        * ``bg_thr=t``: the same with the single threshold t;
        * ``ignore_band=(low, high)``: ``cam_to_label(bg_thr=low,
          ignore_band=(low, high))`` (fg above high, ignore in (low, high],
          bg at or below low); also reports the ignored pixel fraction.
    - or ``pred_sem_seg`` (1, H, W) labels (no ``cams``): a pseudo-label model
      that outputs labels; scored directly, 255 allowed.

    Scoring (see :mod:`mmwsss.evaluation.functional`): mIoU over background +
    C foreground classes. A class absent from every GT map and every
    prediction has IoU nan and is excluded from the mean (VOC / mmseg
    convention); one that is predicted but absent from the GT has IoU 0.
    Predicted-ignore pixels count as not predicted: they lower recall / IoU of
    their GT class and do not enter precision.

    Args:
        thresholds: background thresholds of the sweep, strictly increasing.
            Default: 0.05, 0.06, ..., 0.95 (91 values).
        bg_thr: fixed threshold (no sweep); overrides ``thresholds``.
        ignore_band: (low, high) evaluation of cam_to_label with an ignore band.
        num_classes: K = C + 1, background included. Default: the length of
            ``dataset_meta['classes']``, else 1 + the number of CAM channels.
        ignore_index: GT (and prediction) ignore label.
        source: which prediction to score: ``'auto'`` (``cams`` when present,
            else ``pred_sem_seg``), ``'cams'`` or ``'pred_sem_seg'`` (e.g. a
            model that outputs both CAMs and refined labels).
        out_file: optional JSON path for the curve, per-class scores and
            summary, all in percent, nan as null (written atomically on the
            main process).
        output_dir: optional folder for the predictions (what
            ``tools/test.py --out DIR`` sets): ``<key>.png`` label maps (uint8,
            255 ignore) and, for CAM inputs, ``cams/<key>.npz`` (``keys``:
            foreground indices of the labelled classes, or all; ``cams``:
            float32 (K, H, W)). ``<key>`` is the image path relative to the
            dataset's ``img_root`` without extension. In sweep mode the PNGs are
            the labels at the best threshold, written from the npz files once it
            is known (on the main process; the folder must be shared by all
            ranks); they are exactly the labels scored.
        exclude_background: average mIoU / mPrecision / mRecall over the
            foreground classes only (index 0 still enters the confusion matrix,
            so background pixels predicted as a class still lower its IoU).
            PBIP's histology metric (``iu[:-1].mean()``, its BACK class last).
        collect_device: 'cpu' or 'gpu', as in mmengine.
        prefix: metric key prefix (mmseg's IoUMetric uses none; set one if both
            run in the same evaluator).
    Example (score seeds on the training images, GT used for evaluation only)::

        test_dataloader = dict(dataset=dict(data_prefix=..., ann_file='train.txt'))
        test_evaluator = dict(type='CAMMetric', out_file='work_dirs/x/cam_curve.json')
        # fixed threshold / ToCo-style ignore band / label-outputting models:
        # dict(type='CAMMetric', bg_thr=0.15)
        # dict(type='CAMMetric', ignore_band=(0.25, 0.7))
        # dict(type='CAMMetric', source='pred_sem_seg')

    Returns (from ``evaluate``):
        ``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc`` in percent at the best
        (or fixed) threshold, ``bg_thr`` (the threshold, CAM sweep / fixed
        mode) and ``ignore_ratio`` (percent of all predicted pixels labelled
        ignore, band and label modes).
    """

    def __init__(self,
                 thresholds: Optional[Sequence[float]] = None,
                 bg_thr: Optional[float] = None,
                 ignore_band: Optional[Sequence[float]] = None,
                 num_classes: Optional[int] = None,
                 ignore_index: int = IGNORE_INDEX,
                 out_file: Optional[str] = None,
                 source: str = 'auto',
                 output_dir: Optional[str] = None,
                 exclude_background: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        if bg_thr is not None and ignore_band is not None:
            raise ValueError('give at most one of bg_thr and ignore_band')
        if bg_thr is not None:
            thresholds = [float(bg_thr)]
        elif thresholds is None:
            thresholds = DEFAULT_THRESHOLDS
        thresholds = [float(t) for t in thresholds]
        if not thresholds:
            raise ValueError('thresholds is empty')
        if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
            raise ValueError(f'thresholds must be strictly increasing, got {thresholds}')
        self.thresholds = thresholds
        if ignore_band is not None:
            if len(ignore_band) != 2 or not ignore_band[0] <= ignore_band[1]:
                raise ValueError(f'ignore_band must be (low, high) with low <= high, '
                                 f'got {ignore_band}')
            ignore_band = (float(ignore_band[0]), float(ignore_band[1]))
        self.ignore_band = ignore_band
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.out_file = out_file
        if source not in ('auto', 'cams', 'pred_sem_seg'):
            raise ValueError(f"source must be 'auto', 'cams' or 'pred_sem_seg', got {source!r}")
        self.source = source
        self.exclude_background = bool(exclude_background)
        self.output_dir = output_dir

    # ------------------------------------------------------------------ process
    def _expected_classes(self) -> Optional[int]:
        if self.num_classes is not None:
            return int(self.num_classes)
        classes = (self.dataset_meta or {}).get('classes')
        return len(classes) if classes else None

    def _img_labels(self, sample: Any, num_fg: int, name: str) -> Optional[Tensor]:
        """(C,) multi-hot labels through the one reader, None when the sample has none."""
        return img_label_of(sample, num_fg, required=False)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Store a sparse count table per image (small enough to gather across
        ranks): the threshold histogram for CAMs, the confusion matrix for
        labels."""
        for sample in data_samples:
            name = str(_field(sample, 'img_path') or 'sample')
            gt = _pixel_data(_field(sample, 'gt_sem_seg'))
            if gt is None:
                raise KeyError(f"{name}: data sample has no 'gt_sem_seg'; CAMMetric "
                               'scores seeds / pseudo labels against GT masks')
            if gt.dim() == 3:
                if gt.shape[0] != 1:
                    raise ValueError(f'{name}: gt_sem_seg must be (1, H, W), got '
                                     f'{tuple(gt.shape)}')
                gt = gt[0]
            cams = _pixel_data(_field(sample, 'cams'))
            pred = _pixel_data(_field(sample, 'pred_sem_seg'))
            if self.source == 'pred_sem_seg':
                cams = None
                if pred is None:
                    raise KeyError(f"{name}: source='pred_sem_seg' but the data sample "
                                   "has no 'pred_sem_seg'")
            elif self.source == 'cams' and cams is None:
                raise KeyError(f"{name}: source='cams' but the data sample has no 'cams'")
            expected = self._expected_classes()
            if cams is not None:
                if cams.dim() != 3:
                    raise ValueError(f'{name}: cams must be (C, H, W), got '
                                     f'{tuple(cams.shape)}')
                num_classes = cams.shape[0] + 1
                if expected is not None and expected != num_classes:
                    raise ValueError(f'{name}: {cams.shape[0]} CAM channels (+ background = '
                                     f'{num_classes}) but {expected} classes expected '
                                     '(num_classes / dataset_meta["classes"], background included)')
                if cams.shape[1:] != gt.shape:
                    raise ValueError(f'{name}: CAM size {tuple(cams.shape[1:])} does not '
                                     f'match ground-truth size {tuple(gt.shape)}')
                check_finite(cams, 'cams', f'image {name}')
                img_labels = self._img_labels(sample, cams.shape[0], name)
                if self.output_dir:
                    self._write_cams(name, cams, img_labels)
                if self.ignore_band is None:
                    hist = threshold_histogram(cams, gt.to(cams.device), self.thresholds,
                                               img_labels, self.ignore_index)
                    kind, dense = 'sweep', hist.cpu().numpy()
                    n_ignore = 0
                else:
                    # lazy: mmwsss.models pulls in every model module
                    from mmwsss.models.utils.cam import cam_to_label
                    label = cam_to_label(
                        cams[None],
                        None if img_labels is None else img_labels[None].to(cams.device),
                        bg_thr=self.ignore_band[0],
                        ignore_band=self.ignore_band)[0]
                    # cam_to_label writes 255; score it as this metric's ignore label
                    label[label == 255] = self.ignore_index
                    kind, dense = 'labels', confusion_matrix(label, gt.to(label.device),
                                                             num_classes, self.ignore_index, name)
                    n_ignore = int((label == self.ignore_index).sum())
                    if self.output_dir:
                        self._write_label(name, label)
            elif pred is not None:
                if pred.dim() == 3:
                    pred = pred[0]
                if expected is None:
                    raise ValueError('CAMMetric needs num_classes or dataset_meta["classes"] '
                                     'to score pred_sem_seg labels')
                num_classes = expected
                kind, dense = 'labels', confusion_matrix(pred, gt.to(pred.device), num_classes,
                                                         self.ignore_index, name)
                n_ignore = int((pred == self.ignore_index).sum())
                if self.output_dir:
                    self._write_label(name, pred)
            else:
                raise KeyError(f"{name}: data sample has neither 'cams' nor 'pred_sem_seg'")
            idx, cnt = _sparse(dense)
            self.results.append(
                dict(
                    kind=kind,
                    num_classes=num_classes,
                    idx=idx,
                    cnt=cnt,
                    n_ignore=n_ignore,
                    n_pixels=int(gt.numel()),
                    name=name))

    # ------------------------------------------------------------------ outputs
    def _key(self, name: str) -> str:
        return output_key(name, (self.dataset_meta or {}).get('img_root'))

    def _write_cams(self, name: str, cams: Tensor, img_labels: Optional[Tensor]) -> None:
        keys = (
            torch.arange(cams.shape[0]) if img_labels is None else torch.nonzero(
                img_labels.cpu() > 0).flatten())
        # float32: the PNGs of the sweep are recomputed from these and must equal
        # the labels scored (float16 would move pixels across the threshold)
        atomic_save_npz(
            osp.join(self.output_dir, 'cams',
                     self._key(name) + '.npz'),
            keys=keys.numpy().astype(np.int64),
            cams=cams[keys.to(cams.device)].float().cpu().numpy())

    def _write_label(self, name: str, label: Tensor) -> None:
        label = label.cpu().numpy() if isinstance(label, Tensor) else np.asarray(label)
        bad = (label < 0) | ((label > 254) & (label != self.ignore_index))
        if bad.any() or self.ignore_index > 255:
            raise ValueError(f'{name}: labels {np.unique(label[bad]).tolist()[:10]} do not '
                             'fit a uint8 PNG')
        atomic_write_png(
            osp.join(self.output_dir,
                     self._key(name) + '.png'), label.astype(np.uint8))

    def _write_sweep_labels(self, results: List[dict], bg_thr: float) -> None:
        """PNGs at the chosen threshold from the saved CAMs (cam_to_label's rule)."""
        for res in results:
            data = read_cams_npz(osp.join(self.output_dir, 'cams', self._key(res['name']) + '.npz'))
            cams = torch.from_numpy(data['cams'])
            label = torch.zeros(cams.shape[1:], dtype=torch.long)
            if cams.shape[0]:
                value, index = cams.max(0)
                label = torch.from_numpy(data['keys'])[index] + 1
                # same comparison and dtype as cam_to_label / threshold_histogram
                label[value <= torch.tensor(bg_thr, dtype=cams.dtype)] = 0
            self._write_label(res['name'], label)

    # ------------------------------------------------------------------ compute
    def _class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes and len(classes) == num_classes:
            return [str(c) for c in classes]
        return [str(i) for i in range(num_classes)]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('CAMMetric got no results')
        kinds = {r['kind'] for r in results}
        sizes = {r['num_classes'] for r in results}
        if len(kinds) > 1:
            raise ValueError('CAMMetric got both CAM samples and label samples in one '
                             'evaluation; score them separately')
        if len(sizes) > 1:
            raise ValueError(f'samples disagree on the number of classes: {sorted(sizes)}')
        kind, num_classes = kinds.pop(), sizes.pop()
        k = num_classes
        if kind == 'sweep':
            hist = _dense(results, (len(self.thresholds) + 1, k, k))
            conf = histogram_to_confusion(hist)
            thresholds: List[Optional[float]] = list(self.thresholds)
        else:
            conf = _dense(results, (k, k + 1))[None]
            thresholds = [None]
        scores = segmentation_scores(conf)  # each (T, K) / (T,)
        if self.exclude_background:
            for key in ('IoU', 'Precision', 'Recall'):
                scores['m' + key] = nanmean(scores[key][..., 1:])
        curve = scores['mIoU']
        if np.isnan(curve).all():
            raise ValueError('CAMMetric evaluated no pixel (every GT pixel is ignore)')
        best = int(np.nanargmax(curve))  # ties -> lowest threshold
        at_best = {key: value[best] for key, value in scores.items()}
        names = self._class_names(k)
        n_ignore = sum(r['n_ignore'] for r in results)
        n_pixels = sum(r['n_pixels'] for r in results)

        if kind == 'sweep' and len(self.thresholds) > 1:
            print_log(
                'CAM mIoU (%) per background threshold:\n' + _format_curve(self.thresholds, curve),
                logger='current')
        header = self._mode_string(thresholds[best])
        print_log(
            f'{header}, {len(results)} images:\n' + format_table(names, at_best), logger='current')

        metrics: Dict[str, float] = {
            key: round(100 * float(at_best[key]), 2)
            for key in ('mIoU', 'mPrecision', 'mRecall', 'aAcc')
        }
        if kind == 'sweep':
            metrics['bg_thr'] = float(thresholds[best])
            if self.output_dir:
                self._write_sweep_labels(results, float(thresholds[best]))
                print_log(
                    f'label PNGs at bg_thr {thresholds[best]:g} and CAMs written to '
                    f'{self.output_dir}',
                    logger='current')
        else:
            metrics['ignore_ratio'] = round(100 * n_ignore / max(n_pixels, 1), 2)
        if self.out_file:
            self._dump(
                dict(
                    mode=header,
                    num_images=len(results),
                    classes=names,
                    **{
                        key: to_json_float(100 * at_best[key], 4)
                        for key in ('mIoU', 'mPrecision', 'mRecall', 'aAcc')
                    },
                    bg_thr=thresholds[best],
                    ignore_ratio=(None if kind == 'sweep' else to_json_float(
                        100 * n_ignore / max(n_pixels, 1), 4)),
                    curve=[
                        dict(bg_thr=t, mIoU=to_json_float(100 * m, 4))
                        for t, m in zip(thresholds, curve)
                    ] if kind == 'sweep' else None,
                    per_class={
                        name: {
                            key: to_json_float(100 * at_best[key][i], 4)
                            for key in ('IoU', 'Precision', 'Recall')
                        }
                        for i, name in enumerate(names)
                    }))
        return metrics

    def _mode_string(self, best_thr: Optional[float]) -> str:
        if self.ignore_band is not None:
            return f'cam_to_label with ignore band {self.ignore_band}'
        if best_thr is None:
            return 'pseudo labels'
        if len(self.thresholds) == 1:
            return f'CAMs at bg_thr {best_thr:g}'
        return f'CAMs at the best bg_thr {best_thr:g}'

    def _dump(self, content: dict) -> None:
        atomic_write_json(self.out_file, content)


def _format_curve(thresholds: Sequence[float], curve: np.ndarray, per_line: int = 8) -> str:
    items = [
        f'{t:.2f}: ' + ('  nan' if np.isnan(m) else f'{100 * m:5.2f}')
        for t, m in zip(thresholds, curve)
    ]
    return '\n'.join('  '.join(items[i:i + per_line]) for i in range(0, len(items), per_line))
