"""Score a folder of pseudo labels (or any label PNGs) against ground-truth masks.

    python tools/eval_pseudo_labels.py PRED_DIR GT_DIR \
        [--num-classes N | --classes a,b,c | --classes-from META.json] \
        [--split LIST.txt] [--json OUT.json] [--ignore-index 255] [--allow-missing]

Predictions and GT are single-channel uint8 PNGs of class indices (0 background,
``--ignore-index`` unlabelled; palette PNGs are read as indices), matched by file
stem. Prints per-class IoU / precision / recall, their means, the pixel accuracy
and the fraction of predicted pixels labelled ignore.

Scoring rules (shared with CAMMetric, see mmwsss/evaluation/functional.py):

* GT-ignore pixels are not scored.
* Predicted-ignore pixels count as "not predicted": they are false negatives
  of their GT class (lower recall and IoU) and enter no class's precision.
* A class absent from every GT and every prediction has IoU nan and is left
  out of the means (VOC convention); nan is written as null in the JSON.
* ``ignore_ratio`` is the fraction of *all* prediction pixels equal to the
  ignore index (GT-ignore pixels included).

Class names: ``--classes`` (comma separated) or ``--classes-from`` (a JSON list
of names, or a dict with a ``classes`` key such as the COCO converter's
meta.json). A list whose first name is not 'background' is taken as the
foreground classes and 'background' is prepended. Without names, classes are
numbered; without ``--num-classes`` either, K = 1 + the largest index seen.

A split file that lists an image twice is an error (it would be scored twice).
Every image listed (``--split``) or present in GT_DIR must have a prediction:
a skipped image changes every mIoU, so a missing one is an error unless
``--allow-missing`` (the count and names are still reported).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from mmwsss.evaluation.functional import (IGNORE_INDEX, confusion_matrix, format_table,
                                          segmentation_scores, to_json_float)
from mmwsss.utils.io import atomic_write_json

IMG_EXTS = ('.png', '.jpg', '.jpeg')
SCORE_KEYS = ('mIoU', 'mPrecision', 'mRecall', 'aAcc')


class EvalError(ValueError):
    """Bad input: missing / mismatched files, out-of-range labels."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='mIoU / precision / recall of label PNGs against GT PNGs')
    parser.add_argument('pred_dir', help='folder of predicted label PNGs (<stem>.png)')
    parser.add_argument('gt_dir', help='folder of ground-truth label PNGs (<stem>.png)')
    names = parser.add_mutually_exclusive_group()
    names.add_argument('--classes', help='comma-separated class names')
    names.add_argument(
        '--classes-from',
        metavar='META_JSON',
        help="JSON list of class names or a dict with a 'classes' key")
    parser.add_argument('--num-classes', type=int, help='number of classes K, background included')
    parser.add_argument(
        '--split',
        help='text file of the images to evaluate (first '
        'token of each line: a path relative to the folders, extension '
        'optional); default: every GT file')
    parser.add_argument('--json', metavar='OUT_JSON', help='write the results here')
    parser.add_argument('--ignore-index', type=int, default=IGNORE_INDEX)
    parser.add_argument('--pred-suffix', default='.png')
    parser.add_argument('--gt-suffix', default='.png')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='skip GT images without a prediction (reported) instead of '
        'failing')
    return parser.parse_args(argv)


def resolve_class_names(names: Optional[Sequence[str]],
                        num_classes: Optional[int]) -> Optional[List[str]]:
    """Full class list (background first) from user names, checked against K."""
    if names is None:
        return None
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise EvalError(f'empty class name in {names}')
    if names[0].lower() != 'background':
        names = ['background'] + names
    if num_classes is not None and num_classes != len(names):
        raise EvalError(f'--num-classes {num_classes} but {len(names)} class names '
                        f'(background included): {names}')
    return names


def load_class_names(meta_file: str) -> List[str]:
    """Names from a JSON list or a dict with a 'classes' key."""
    try:
        with open(meta_file, encoding='utf-8-sig') as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:  # UnicodeDecodeError / JSONDecodeError included
        raise EvalError(f'cannot read class names from {meta_file}: {e}') from e
    if isinstance(meta, dict):
        if 'classes' not in meta:
            raise EvalError(f"{meta_file} has no 'classes' key (keys: {sorted(meta)})")
        meta = meta['classes']
    if not isinstance(meta, list) or not all(isinstance(n, str) for n in meta):
        raise EvalError(f'{meta_file}: classes must be a list of names')
    return meta


def list_labels(folder: str, suffix: str) -> Dict[str, str]:
    """{key: path} of the files under ``folder`` ending with ``suffix``.

    The key is the path relative to ``folder`` without the suffix, ``/``-separated.
    Hidden names (leading ``.``: temporary files of an interrupted writer, ``.git``)
    are skipped, files and folders alike.
    """
    if not osp.isdir(folder):
        raise EvalError(f'{folder} is not a folder')
    out = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            if name.startswith('.') or not name.endswith(suffix) or len(name) <= len(suffix):
                continue
            rel = osp.relpath(osp.join(root, name), folder)
            out[rel[:-len(suffix)].replace(os.sep, '/')] = osp.join(root, name)
    return out


def read_split(split_file: str) -> List[str]:
    """Keys of a split list: the first token per line, image extension dropped.

    Relative paths keep their folders (``a/01.jpg`` -> ``a/01``); a token with a
    leading ``/`` (psa's ``/JPEGImages/x.jpg /SegmentationClassAug/x.png``) is
    reduced to its file name. An image listed twice is an error naming both lines.
    """
    keys: Dict[str, int] = {}
    try:
        with open(split_file, encoding='utf-8-sig') as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise EvalError(f'split file {split_file} is not UTF-8 text: {e}') from e
    except OSError as e:
        raise EvalError(f'cannot read split file {split_file}: {e}') from e
    for line_no, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        token = tokens[0]
        if token.startswith('/'):
            token = osp.basename(token)
        root, ext = osp.splitext(token)
        key = root if ext.lower() in IMG_EXTS else token
        if key in keys:
            raise EvalError(f'split file {split_file} line {line_no}: {key} is already '
                            f'listed on line {keys[key]}')
        keys[key] = line_no
    if not keys:
        raise EvalError(f'split file {split_file} lists no image')
    return list(keys)


def load_label(path: str) -> np.ndarray:
    """(H, W) int64 class indices of a single-channel (or palette) PNG.

    16-bit values are kept as they are (no uint8 wrap-around): 270 is reported as
    out of range, never scored as 14.
    """
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L', 'I', 'I;16', '1'):
                raise EvalError(f'{path}: mode {img.mode!r} image; expected a '
                                'single-channel class-index PNG')
            return np.asarray(img).astype(np.int64)
    except OSError as e:
        raise EvalError(f'cannot read {path}: {e}') from e


def _names(stems: Sequence[str], limit: int = 10) -> str:
    more = f' ... (+{len(stems) - limit} more)' if len(stems) > limit else ''
    return ', '.join(stems[:limit]) + more


def evaluate(pred_dir: str,
             gt_dir: str,
             num_classes: Optional[int] = None,
             class_names: Optional[Sequence[str]] = None,
             split: Optional[Sequence[str]] = None,
             ignore_index: int = IGNORE_INDEX,
             allow_missing: bool = False,
             pred_suffix: str = '.png',
             gt_suffix: str = '.png') -> dict:
    """Score every prediction against its GT; returns the JSON-ready report."""
    class_names = resolve_class_names(class_names, num_classes)
    if class_names is not None:
        num_classes = len(class_names)
    if num_classes is not None and not 1 <= num_classes <= 255:
        raise EvalError(f'num_classes must be in [1, 255], got {num_classes}')
    preds = list_labels(pred_dir, pred_suffix)
    gts = list_labels(gt_dir, gt_suffix)
    if split is None:
        orphans = sorted(set(preds) - set(gts))
        if orphans:
            raise EvalError(f'{len(orphans)} prediction(s) in {pred_dir} have no GT file in '
                            f'{gt_dir}: {_names(orphans)}')
        stems = sorted(gts)
    else:
        if len(set(split)) != len(split):
            dup = sorted({s for s in split if split.count(s) > 1})
            raise EvalError(f'the split lists {_names(dup)} more than once')
        stems = list(split)
        no_gt = [s for s in stems if s not in gts]
        if no_gt:
            raise EvalError(f'{len(no_gt)} image(s) of the split have no GT file in '
                            f'{gt_dir}: {_names(no_gt)}')
    if not stems:
        raise EvalError(f'no GT file ending with {gt_suffix!r} in {gt_dir}')
    missing = [s for s in stems if s not in preds]
    if missing and not allow_missing:
        raise EvalError(f'{len(missing)} of {len(stems)} image(s) have no prediction in '
                        f'{pred_dir}: {_names(missing)} (--allow-missing skips them)')
    stems = [s for s in stems if s in preds]
    if not stems:
        raise EvalError(f'no image has both a prediction in {pred_dir} and a GT in {gt_dir}')

    # unknown K: count over the whole uint8 range and crop to the largest index seen
    size = num_classes if num_classes is not None else 255
    conf = np.zeros((size, size + 1), dtype=np.int64)
    n_ignore = n_pixels = 0
    for stem in stems:
        pred, gt = load_label(preds[stem]), load_label(gts[stem])
        if pred.shape != gt.shape:
            raise EvalError(f'{preds[stem]}: prediction size {pred.shape[0]}x{pred.shape[1]} '
                            f'(HxW) differs from GT {gts[stem]} size '
                            f'{gt.shape[0]}x{gt.shape[1]}')
        try:
            conf += confusion_matrix(pred, gt, size, ignore_index, name=preds[stem])
        except ValueError as e:
            raise EvalError(f'{e} (GT {gts[stem]})') from e
        n_ignore += int((pred == ignore_index).sum())
        n_pixels += pred.size
    if num_classes is None:
        seen = np.flatnonzero(conf[:, :size].sum(0) + conf.sum(1))
        num_classes = int(seen.max()) + 1 if seen.size else 1
        conf = np.concatenate([conf[:num_classes, :num_classes], conf[:num_classes, -1:]], 1)
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]

    scores = segmentation_scores(conf)
    return dict(
        pred_dir=osp.abspath(pred_dir),
        gt_dir=osp.abspath(gt_dir),
        num_images=len(stems),
        num_missing=len(missing),
        missing=missing,
        num_classes=num_classes,
        classes=list(class_names),
        ignore_index=ignore_index,
        **{key: to_json_float(100 * scores[key], 4)
           for key in SCORE_KEYS},
        ignore_ratio=to_json_float(100 * n_ignore / max(n_pixels, 1), 4),
        per_class={
            name: {
                key: to_json_float(100 * scores[key][i], 4)
                for key in ('IoU', 'Precision', 'Recall')
            }
            for i, name in enumerate(class_names)
        },
        confusion_matrix=conf.tolist(),
        _scores=scores)


def write_json_atomic(path: str, obj: dict) -> None:
    atomic_write_json(path, obj)


def report_text(report: dict) -> str:
    lines = [format_table(report['classes'], report['_scores'])]
    summary = ', '.join(f'{key}: {_fmt(report[key])}' for key in SCORE_KEYS)
    lines.append(f'{summary}, ignore: {_fmt(report["ignore_ratio"])}% of predicted pixels')
    lines.append(f'{report["num_images"]} images evaluated')
    if report['num_missing']:
        lines.append(f'WARNING: {report["num_missing"]} image(s) without a prediction were '
                     f'skipped: {_names(report["missing"])}')
    return '\n'.join(lines)


def _fmt(x: Optional[float]) -> str:
    return 'nan' if x is None else f'{x:.2f}'


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        names = None
        if args.classes is not None:
            names = args.classes.split(',')
        elif args.classes_from is not None:
            names = load_class_names(args.classes_from)
        split = read_split(args.split) if args.split else None
        report = evaluate(args.pred_dir, args.gt_dir, args.num_classes, names, split,
                          args.ignore_index, args.allow_missing, args.pred_suffix, args.gt_suffix)
    except (EvalError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(report_text(report))
    if args.json:
        write_json_atomic(args.json, {k: v for k, v in report.items() if not k.startswith('_')})
        print(f'results written to {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
