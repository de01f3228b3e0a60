"""CAM overlays: one row per image, one heat-map tile per labelled class.

Shared by ``tools/analysis_tools/visualize_cams.py`` (a PNG of a checkpoint's CAMs)
and :class:`mmwsss.engine.hooks.CAMVisualizationHook` (the same picture, every N
iterations, into the visualizer backends). All images are BGR uint8 (OpenCV order).
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

__all__ = [
    'TITLE_HEIGHT', 'tile_size', 'photo_tile', 'overlay_tile', 'add_title', 'draw_row',
    'stack_rows', 'draw_cam_samples'
]

# height of the black band :func:`add_title` puts above a tile
TITLE_HEIGHT = 24


def tile_size(shape: Sequence[int], width: int) -> Tuple[int, int]:
    """(width, height) of a tile ``width`` wide showing an image of ``shape`` (H, W, ...):
    the height keeps the aspect ratio (at least 1 pixel)."""
    h, w = shape[:2]
    return width, max(1, round(width * h / w))


def photo_tile(img_bgr: np.ndarray, width: int) -> np.ndarray:
    """The (H, W, 3) photo resized to a tile ``width`` wide."""
    return cv2.resize(img_bgr, tile_size(img_bgr.shape, width))


def overlay_tile(img_bgr: np.ndarray, cam: Union[torch.Tensor, np.ndarray], name: str,
                 gt_mask: Optional[np.ndarray], width: int) -> np.ndarray:
    """One class's CAM over the photo: ``0.5 * photo + 0.5 * JET(cam)``, the class's
    ground-truth region outlined in white, ``name`` written at the top left.

    Args:
        img_bgr: (H, W, 3) uint8 photo.
        cam: (H, W) CAM in [0, 1] at the photo's size.
        name: the class name written on the tile.
        gt_mask: (H, W) bool / 0-1 mask of the class's ground truth, or None.
        width: tile width (the height keeps the photo's aspect ratio).
    Returns:
        (h, width, 3) uint8 tile.
    """
    if isinstance(cam, torch.Tensor):
        cam = cam.detach().float().cpu().numpy()
    if tuple(cam.shape) != tuple(img_bgr.shape[:2]):
        raise ValueError(f'the CAM is {tuple(cam.shape)} but the photo is '
                         f'{tuple(img_bgr.shape[:2])}: resize it to the original image first')
    w = img_bgr.shape[1]
    heat = (np.clip(cam, 0, 1) * 255).astype(np.uint8)
    tile = cv2.addWeighted(img_bgr, 0.5, cv2.applyColorMap(heat, cv2.COLORMAP_JET), 0.5, 0)
    if gt_mask is not None:
        mask = np.asarray(gt_mask).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        # the outline is drawn at the original size, so its width scales with the photo
        cv2.drawContours(tile, contours, -1, (255, 255, 255), max(1, w // 200))
    tile = cv2.resize(tile, tile_size(img_bgr.shape, width))
    cv2.putText(tile, name, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return tile


def add_title(tile: np.ndarray, text: str, height: int = TITLE_HEIGHT) -> np.ndarray:
    """``tile`` with a black band ``height`` pixels high above it, ``text`` written in
    white (the font shrinks until the text fits the tile's width).

    Returns:
        (height + h, w, 3) uint8.
    """
    band = np.zeros((height, tile.shape[1], 3), np.uint8)
    scale = 0.5
    while scale > 0.25:
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        if tw <= tile.shape[1] - 6:
            break
        scale -= 0.05
    cv2.putText(band, text, (3, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.concatenate([band, tile], 0)


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
    tiles = [photo_tile(img_bgr, width)]
    for c in classes:
        mask = (gt == c + 1) if gt is not None else None
        tiles.append(overlay_tile(img_bgr, cams[c].clamp(0, 1), names[c + 1], mask, width))
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
