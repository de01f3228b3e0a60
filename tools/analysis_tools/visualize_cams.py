"""Draw the CAMs of a CAM model for a few images: one row per image, one tile per
labelled class (heat map over the photo, ground-truth outline in white).

    python tools/analysis_tools/visualize_cams.py CONFIG CHECKPOINT --out cams.png \
        [--indices 0,1,2] [--split test|pseudo_label] [--data-root DIR] [--tile-width 256]

The CAMs are the model's own predict path (multi-scale, flips, normalisation and
label masking of its test_cfg), so the picture shows exactly what tools/test.py scores.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.registry import DATASETS, MODELS
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import _atomic


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw CAMs of a CAM model')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output image (.png or .jpg)')
    parser.add_argument(
        '--indices',
        default='0,1,2,3,4,5',
        help='comma-separated dataset indices (default: the first six)')
    parser.add_argument(
        '--split',
        choices=['test', 'pseudo_label'],
        default='test',
        help='which dataloader of the config to read images from')
    parser.add_argument('--data-root', help='dataset root used by every dataloader')
    parser.add_argument('--tile-width', type=int, default=256)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def draw_row(img_bgr: np.ndarray, cams: torch.Tensor, classes: Sequence[int], names: Sequence[str],
             gt: Optional[np.ndarray], width: int) -> np.ndarray:
    """The photo, then one overlay per class in ``classes``.

    Args:
        img_bgr: (H, W, 3) uint8 photo.
        cams: (C, H, W) CAMs in [0, 1] (foreground classes).
        classes: foreground class indices to draw.
        names: segmentation class names (background first).
        gt: (H, W) ground-truth segmentation or None.
    Returns:
        (h, width * (1 + len(classes)), 3) uint8 row.
    """
    h, w = img_bgr.shape[:2]
    size = (width, max(1, round(width * h / w)))
    tiles = [cv2.resize(img_bgr, size)]
    for c in classes:
        heat = (cams[c].clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)
        tile = cv2.addWeighted(img_bgr, 0.5, cv2.applyColorMap(heat, cv2.COLORMAP_JET), 0.5, 0)
        if gt is not None:
            mask = (gt == c + 1).astype(np.uint8)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(tile, contours, -1, (255, 255, 255), max(1, w // 200))
        tile = cv2.resize(tile, size)
        cv2.putText(tile, names[c + 1], (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        tiles.append(tile)
    return np.concatenate(tiles, 1)


def stack_rows(rows: List[np.ndarray]) -> np.ndarray:
    """Pad rows to a common width (black) and stack them vertically."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate(
        [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT) for r in rows], 0)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise KeyError(f'{args.config} has no {args.split}_dataloader')
    dataset = DATASETS.build(loader['dataset'])
    try:
        indices = [int(i) for i in args.indices.split(',') if i.strip()]
    except ValueError as e:
        raise ValueError(f'--indices must be integers, got {args.indices!r}') from e
    bad = [i for i in indices if not 0 <= i < len(dataset)]
    if bad:
        raise IndexError(f'--indices {bad} outside the {len(dataset)} images of the '
                         f'{args.split} split')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    names = dataset.metainfo['classes']
    rows = []
    for i in indices:
        item = dataset[i]
        data = model.data_preprocessor(
            dict(inputs=[item['inputs']], data_samples=[item['data_samples']]), False)
        with torch.no_grad():
            sample = model.predict(data['inputs'], data['data_samples'])[0]
        img = cv2.imread(sample.metainfo['img_path'])
        gt = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
        rows.append(
            draw_row(img, sample.cams.data, sample.metainfo['img_labels'], names, gt,
                     args.tile_width))
    canvas = stack_rows(rows)
    ext = osp.splitext(args.out)[1] or '.png'
    _atomic(args.out, lambda tmp: cv2.imwrite(tmp, canvas) or _fail(args.out), ext)
    print(f'{len(rows)} images -> {args.out}')
    return 0


def _fail(path: str) -> None:
    raise OSError(f'could not write {path} (unsupported extension?)')


if __name__ == '__main__':
    sys.exit(main())
