import torch

from mmwsss.models.label_sources.cam_label_source import valid_mask_at


def _mask():
    # 1 image, 8x8 pixels, valid region = rows 4..7 (an image placed at the bottom)
    m = torch.zeros(1, 8, 8, dtype=torch.bool)
    m[:, 4:] = True
    return m


def test_valid_mask_resized_to_the_grid_keeps_the_box():
    out = valid_mask_at(_mask(), (2, 2), 'resize')
    # nearest: grid row 0 samples pixel row 0 (invalid), grid row 1 samples row 4 (valid)
    assert out.tolist() == [[[False, False], [True, True]]]


def test_toco_topleft_quirk_slices_pixel_coordinates_on_the_grid():
    # ToCo: label[:, 4:8, 0:8] on a 2x2 grid selects nothing -> every token ignored
    out = valid_mask_at(_mask(), (2, 2), 'topleft')
    assert not out.any()
    full = torch.ones(1, 8, 8, dtype=torch.bool)
    assert valid_mask_at(full, (2, 2), 'topleft').all()


def test_none_mode_and_same_size():
    assert valid_mask_at(_mask(), (2, 2), 'none') is None
    assert torch.equal(valid_mask_at(_mask(), (8, 8), 'resize'), _mask())
