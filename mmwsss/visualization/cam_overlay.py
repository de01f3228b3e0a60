"""CAM overlays: one row per image, one heat-map tile per labelled class.

Shared by ``tools/analysis_tools/visualize_cams.py`` (a PNG of a checkpoint's CAMs)
and :class:`mmwsss.engine.hooks.CAMVisualizationHook` (the same picture, every N
iterations, into the visualizer backends). All images are BGR uint8 (OpenCV order).
"""
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch

__all__ = ['draw_row', 'stack_rows', 'draw_cam_samples']


def draw_row(img_bgr: np.ndarray, cams: torch.Tensor, classes: Sequence[int], names: Sequence[str],
             gt: Optional[np.ndarray], width: int) -> np.ndarray:
    """The photo, then one overlay per class in ``classes``.

    Each tile is ``0.5 * photo + 0.5 * JET(cam)``, the ground-truth region of the
    class outlined in white, the class name written at the top left.

    Args:
        img_bgr: (H, W, 3) uint8 photo.
        cams: (C, H, W) CAMs in [0, 1] (foreground classes).
        classes: foreground class indices to draw.
        names: segmentation class names (background first).
        gt: (H, W) ground-truth segmentation or None.
        width: width of each tile (the height keeps the photo's aspect ratio).
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


def draw_cam_samples(samples: Sequence, names: Sequence[str], width: int = 256) -> np.ndarray:
    """The picture of a model's predicted samples: one :func:`draw_row` per sample.

    Args:
        samples: data samples of a CAM model's ``predict`` (``cams`` (C, H, W) at the
            original size, metainfo ``img_path`` and ``img_labels``; ``gt_sem_seg``
            outlined when present).
        names: segmentation class names (background first).
        width: tile width.
    Returns:
        (H, W, 3) uint8 BGR canvas.
    """
    rows = []
    for sample in samples:
        path = sample.metainfo['img_path']
        img = cv2.imread(path)
        if img is None:
            raise IOError(f'cannot read image {path}')
        gt = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
        rows.append(
            draw_row(img, sample.cams.data, sample.metainfo['img_labels'], names, gt, width))
    return stack_rows(rows)
