"""CAMs of several methods side by side, and label maps step by step.

- :func:`draw_cam_comparison` (``tools/analysis_tools/compare_cams.py``): a header with
  the method names, then one row per (image, labelled class): the photo, then one
  :func:`~mmwsss.visualization.cam_overlay.overlay_tile` per method (the same tile
  ``visualize_cams.py`` draws for that model, image and class).
- :func:`color_label` / :func:`draw_label_row` (``tools/analysis_tools/
  visualize_refine_chain.py``): class-index maps coloured with the dataset palette, a
  title above each tile.

All images are BGR uint8 (OpenCV order); palettes are RGB, as in dataset metainfo.
"""
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from .cam_overlay import add_title, overlay_tile, photo_tile, tile_size

__all__ = ['IGNORE_COLOR', 'draw_cam_comparison', 'color_label', 'label_tile', 'draw_label_row']

# colour of the ignore index 255 (VOC's 'void' border colour), RGB
IGNORE_COLOR = (224, 224, 192)


def draw_cam_comparison(images: Sequence[dict], method_names: Sequence[str], names: Sequence[str],
                        width: int) -> np.ndarray:
    """One canvas comparing the CAMs of several methods on the same images.

    Args:
        images: per image a dict with ``img`` ((H, W, 3) uint8 BGR photo), ``classes``
            (foreground class indices drawn, one row each), ``cams`` (per method a
            ``{class: (H, W) CAM in [0, 1]}`` at the photo's size) and ``gts`` (per
            method the (H, W) ground-truth segmentation its sample carried, or None).
        method_names: the column titles, one per method.
        names: segmentation class names (background first).
        width: tile width (tile heights keep each photo's aspect ratio).
    Returns:
        (TITLE_HEIGHT + sum of row heights, width * (1 + M), 3) uint8 canvas: a black
        header band with 'photo' and the method names, then the rows.
    """
    header = np.concatenate(
        [add_title(np.zeros((0, width, 3), np.uint8), title) for title in ['photo', *method_names]],
        1)
    rows = [header]
    for item in images:
        img = item['img']
        if len(item['cams']) != len(method_names) or len(item['gts']) != len(method_names):
            raise ValueError(f'{len(method_names)} methods but {len(item["cams"])} CAM sets '
                             f'and {len(item["gts"])} ground truths for an image')
        for c in item['classes']:
            tiles = [photo_tile(img, width)]
            for cams, gt in zip(item['cams'], item['gts']):
                mask = (gt == c + 1) if gt is not None else None
                tiles.append(overlay_tile(img, cams[c], names[c + 1], mask, width))
            rows.append(np.concatenate(tiles, 1))
    return np.concatenate(rows, 0)


def _palette_lut(palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(256, 3) BGR lookup table: the palette, 255 = :data:`IGNORE_COLOR`, others -1."""
    if len(palette) > 255:
        raise ValueError(f'a palette of {len(palette)} colours does not fit uint8 labels')
    lut = np.full((256, 3), -1, np.int64)
    lut[:len(palette)] = np.asarray(palette, np.int64)[:, ::-1]
    lut[255] = IGNORE_COLOR[::-1]
    return lut


def color_label(label: Union[np.ndarray, torch.Tensor],
                palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 BGR: class k in ``palette[k]`` (RGB),
    255 (ignore) in :data:`IGNORE_COLOR`.

    Raises:
        ValueError: an index that is neither in the palette nor 255.
    """
    if isinstance(label, torch.Tensor):
        label = label.detach().cpu().numpy()
    label = np.asarray(label).astype(np.int64)
    lut = _palette_lut(palette)
    bad = np.unique(label[(label < 0) | (label > 255)])
    if bad.size == 0:
        bad = np.unique(label[lut[label.clip(0, 255), 0] < 0])
    if bad.size:
        raise ValueError(f'label indices {bad.tolist()[:10]} have no colour in a palette of '
                         f'{len(palette)} (and are not the ignore index 255)')
    return lut[label].astype(np.uint8)


def label_tile(label: Union[np.ndarray, torch.Tensor], palette: Sequence[Sequence[int]],
               width: int) -> np.ndarray:
    """:func:`color_label`, resized (nearest: no mixed colours at the borders) to a tile
    ``width`` wide."""
    colored = color_label(label, palette)
    return cv2.resize(colored, tile_size(colored.shape, width), interpolation=cv2.INTER_NEAREST)


def draw_label_row(img_bgr: np.ndarray, labels: Sequence[Tuple[str, np.ndarray]],
                   palette: Sequence[Sequence[int]], width: int) -> np.ndarray:
    """The photo, then one coloured label map per ``(title, (H, W) label)``, each with its
    title in a band above it.

    Returns:
        (TITLE_HEIGHT + h, width * (1 + len(labels)), 3) uint8 row.
    """
    tiles = [add_title(photo_tile(img_bgr, width), 'photo')]
    size = tile_size(img_bgr.shape, width)
    for title, label in labels:
        if tuple(np.shape(label)) != tuple(img_bgr.shape[:2]):
            raise ValueError(f'label {title!r} is {tuple(np.shape(label))} but the photo is '
                             f'{tuple(img_bgr.shape[:2])}')
        tile = label_tile(label, palette, width)
        assert (tile.shape[1], tile.shape[0]) == size
        tiles.append(add_title(tile, title))
    return np.concatenate(tiles, 1)
