"""The tile helpers of mmwsss.visualization.cam_overlay, pixel values by hand.

JET(0) = BGR (128, 0, 0) and JET(255) = (0, 0, 128), so a 0.5 / 0.5 blend with a photo
of BGR (100, 50, 200) is (114, 25, 100) where the CAM is 0 and (50, 25, 164) where it is 1.
"""
import numpy as np
import pytest
import torch

from mmwsss.visualization.cam_overlay import (TITLE_HEIGHT, add_title, draw_row, overlay_tile,
                                              photo_tile, tile_size)


def _photo(h: int = 20, w: int = 40) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (100, 50, 200)
    return img


def test_tile_size_keeps_aspect_ratio():
    assert tile_size((427, 640, 3), 64) == (64, 43)  # 64 * 427 / 640 = 42.7
    assert tile_size((1, 1000), 10) == (10, 1)  # never 0 pixels high


def test_overlay_tile_by_hand():
    img = _photo()
    cam = np.zeros((20, 40), np.float32)
    cam[:, 20:] = 1.0
    cam[0, 0] = 7.0  # clipped to 1
    tile = overlay_tile(img, torch.from_numpy(cam), 'cls', None, width=20)
    assert tile.shape == (10, 20, 3)
    assert tuple(tile[3, 15]) == (50, 25, 164)  # right half, resized 2:1 from cam 1
    # (the name is written at the top left: look at a pixel of the left half below it)
    assert tuple(overlay_tile(img, cam, '', None, 40)[10, 10]) == (114, 25, 100)
    mask = np.zeros((20, 40), bool)
    mask[4:16, 24:36] = True
    outlined = overlay_tile(img, cam, '', mask, 40)
    assert tuple(outlined[4, 30]) == (255, 255, 255)  # the region's top edge
    assert tuple(outlined[10, 30]) == (50, 25, 164)  # inside it: the heat value
    with pytest.raises(ValueError, match=r'\(10, 40\).*\(20, 40\)'):
        overlay_tile(img, cam[:10], 'cls', None, 40)


def test_draw_row_is_photo_plus_overlay_tiles():
    img = _photo()
    cams = torch.rand(3, 20, 40)
    gt = np.zeros((20, 40), np.int64)
    gt[5:15, 5:15] = 2  # class index 1
    row = draw_row(img, cams, [1, 2], ['bg', 'a', 'b', 'c'], gt, 32)
    h = tile_size(img.shape, 32)[1]
    assert row.shape == (h, 96, 3)
    assert (row[:, :32] == photo_tile(img, 32)).all()
    assert (row[:, 32:64] == overlay_tile(img, cams[1], 'b', gt == 2, 32)).all()
    assert (row[:, 64:] == overlay_tile(img, cams[2], 'c', gt == 3, 32)).all()


def test_add_title_band():
    tile = np.full((10, 60, 3), 77, np.uint8)
    out = add_title(tile, 'DenseCRF')
    assert out.shape == (TITLE_HEIGHT + 10, 60, 3)
    assert (out[TITLE_HEIGHT:] == 77).all()
    band = out[:TITLE_HEIGHT]
    assert band.max() > 200 and (band[0] == 0).all()  # white text, black top line
    # a title far wider than the tile shrinks but stays inside the band
    long = add_title(tile, 'a very long refiner name indeed')
    assert long.shape == out.shape
