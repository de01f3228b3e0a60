"""draw_cam_comparison / color_label / draw_label_row, pixel values by hand."""
import numpy as np
import pytest
import torch

from mmwsss.datasets.class_names import VOC_PALETTE
from mmwsss.visualization.cam_compare import (IGNORE_COLOR, color_label, draw_cam_comparison,
                                              draw_label_row, label_tile)
from mmwsss.visualization.cam_overlay import TITLE_HEIGHT, overlay_tile

NAMES = ['background', 'a', 'b', 'c']


def _photo(h: int, w: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (100, 50, 200)
    return img


def test_comparison_grid_by_hand():
    # image 1: 20 x 40, classes 0 and 2; image 2: 30 x 30, class 1; two methods
    img1, img2 = _photo(20, 40), _photo(30, 30)
    zeros1, ones1 = torch.zeros(20, 40), torch.ones(20, 40)
    gt1 = np.zeros((20, 40), np.int64)
    gt1[4:16, 24:36] = 3  # class 2 in method B's sample only
    images = [
        dict(
            img=img1,
            classes=[0, 2],
            cams=[{
                0: zeros1,
                2: ones1
            }, {
                0: ones1,
                2: zeros1
            }],
            gts=[None, gt1]),
        dict(img=img2, classes=[1], cams=[{
            1: torch.ones(30, 30)
        }] * 2, gts=[None, None]),
    ]
    canvas = draw_cam_comparison(images, ['A', 'B'], NAMES, width=40)
    # header + rows of 20, 20 (image 1) and 40 (image 2, square) pixels; 3 columns
    assert canvas.shape == (TITLE_HEIGHT + 20 + 20 + 40, 120, 3)
    header = canvas[:TITLE_HEIGHT]
    assert (header[0] == 0).all() and header.max() > 200  # black band, white titles
    y1, y2, y3 = TITLE_HEIGHT, TITLE_HEIGHT + 20, TITLE_HEIGHT + 40
    assert (canvas[y1:y2, :40] == img1[:, :40]).all()  # the photo column
    assert (canvas[y3:, :40] == (100, 50, 200)).all()
    # row (image 1, class 0): A's CAM 0 -> (114, 25, 100), B's CAM 1 -> (50, 25, 164)
    assert tuple(canvas[y1 + 15, 60]) == (114, 25, 100)
    assert tuple(canvas[y1 + 15, 100]) == (50, 25, 164)
    # row (image 1, class 2): A gives 1, B gives 0 and outlines its gt region in white
    assert tuple(canvas[y2 + 15, 60]) == (50, 25, 164)
    assert tuple(canvas[y2 + 4, 110]) == (255, 255, 255)
    assert tuple(canvas[y2 + 10, 110]) == (114, 25, 100)
    # each tile is exactly overlay_tile of its method
    assert (canvas[y2:y3, 80:] == overlay_tile(img1, zeros1, 'c', gt1 == 3, 40)).all()
    with pytest.raises(ValueError, match='3 methods but 2 CAM sets'):
        draw_cam_comparison(images, ['A', 'B', 'C'], NAMES, width=40)


def test_color_label_uses_the_palette():
    label = np.array([[0, 1, 15], [255, 20, 14]])
    out = color_label(label, VOC_PALETTE)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    # VOC colours (RGB): person 15 = (192, 128, 128), motorbike 14 = (64, 128, 128),
    # tvmonitor 20 = (0, 64, 128); written BGR
    assert tuple(out[0, 0]) == (0, 0, 0)
    assert tuple(out[0, 1]) == (0, 0, 128)
    assert tuple(out[0, 2]) == (128, 128, 192)
    assert tuple(out[1, 1]) == (128, 64, 0)
    assert tuple(out[1, 2]) == (128, 128, 64)
    assert tuple(out[1, 0]) == tuple(IGNORE_COLOR[::-1])
    assert (color_label(torch.from_numpy(label), VOC_PALETTE) == out).all()
    with pytest.raises(ValueError, match=r'\[21\]'):  # 21 classes: 0..20
        color_label(np.array([[21]]), VOC_PALETTE)
    with pytest.raises(ValueError, match=r'\[-1\]'):
        color_label(np.array([[-1, 0]]), VOC_PALETTE)


def test_label_tile_is_nearest():
    label = np.array([[0, 1, 2, 3]] * 2)  # 2 x 4
    tile = label_tile(label, VOC_PALETTE, width=8)  # 4 x 8: each pixel a 2 x 2 block
    assert tile.shape == (4, 8, 3)
    for k in range(4):
        assert (tile[:, 2 * k:2 * k + 2] == VOC_PALETTE[k][::-1]).all()


def test_draw_label_row_geometry():
    img = _photo(20, 40)
    a = np.zeros((20, 40), np.int64)
    b = np.full((20, 40), 15)
    row = draw_label_row(img, [('CAM', a), ('1. PAR', b)], VOC_PALETTE, 40)
    assert row.shape == (TITLE_HEIGHT + 20, 120, 3)
    assert (row[TITLE_HEIGHT:, :40] == (100, 50, 200)).all()
    assert (row[TITLE_HEIGHT:, 40:80] == 0).all()
    assert (row[TITLE_HEIGHT:, 80:] == (128, 128, 192)).all()
    assert row[:TITLE_HEIGHT, 80:].max() > 200  # the title
    with pytest.raises(ValueError, match=r"'GT' is \(10, 40\)"):
        draw_label_row(img, [('GT', a[:10])], VOC_PALETTE, 40)
