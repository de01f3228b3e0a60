"""S2C's SAM side: index maps, CAM peak points, the CPM label rule, the prompter."""
import numpy as np
import pytest
import torch

from mmwsss.models.foundation.s2c_sam import (S2CPrompter, cam_peak_points, cpm_pseudo_label,
                                              peaks_to_prompt_coords, segments_to_index_map)


def test_index_map_paints_reversed_order():
    m = np.zeros((3, 2, 3), bool)
    m[0, 0, :2] = True  # first generator mask -> index 2, painted last (on top)
    m[1, 0, 1:] = True  # -> index 1
    m[2, 1, 2] = True  # last mask -> index 0
    out = segments_to_index_map(m)
    assert out.tolist() == [[2, 2, 1], [-1, -1, 0]]
    assert segments_to_index_map(np.zeros((0, 2, 2), bool)).tolist() == [[-1, -1], [-1, -1]]


def _bump(shape, center, value, sigma=3.0):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return value * np.exp(-((yy - center[0])**2 + (xx - center[1])**2) / (2 * sigma**2))


def test_cam_peak_points_official_rule():
    shape = (80, 80)
    cam = np.maximum.reduce([
        _bump(shape, (30, 30), 1.0),
        _bump(shape, (50, 55), 0.8),
        _bump(shape, (30, 55), 0.4),  # below th_multi 0.5
        _bump(shape, (5, 70), 0.9),  # within min_distance of the border: excluded
    ]).astype(np.float32)
    pts = cam_peak_points(cam, thr=0.5, min_distance=20)
    # global max first (unfiltered argmax); local peaks of the 3x3-max-filtered map: each
    # bump becomes a 3 x 3 plateau and peak_local_max returns its first (top-left) pixel,
    # so the local peaks sit one pixel up-left of the CAM's: (29, 29) [dropped:
    # peaks_valid[1:]] and (49, 54)
    assert pts.tolist() == [[30, 30], [49, 54]]
    pts = cam_peak_points(cam, thr=0.5, min_distance=20, drop_first_peak=False)
    assert pts.tolist() == [[30, 30], [29, 29], [49, 54]]
    # the official drops the first valid peak even when it is not the global max: here
    # the global max (5, 70) is in the border band, so the (30, 30) bump is lost
    cam2 = np.maximum(cam, _bump(shape, (5, 70), 1.2)).astype(np.float32)
    assert cam_peak_points(cam2).tolist() == [[5, 70], [49, 54]]


def test_prompt_coords_xy_scaled_per_axis():
    xy = peaks_to_prompt_coords(np.array([[10, 20]]), (64, 128), 1024)
    assert xy.tolist() == [[160.0, 160.0]]  # x = 20 * 1024 / 128, y = 10 * 1024 / 64


def test_cpm_pseudo_label_by_hand():
    cam = torch.zeros(1, 3, 4, 4)
    cam[0, 0] = 0.5
    cam[0, 0, 0, 0] = 1.0  # class 0 peak (0, 0)
    cam[0, 1] = 0.2
    cam[0, 1, 3, 3] = 1.0  # class 1 peak (3, 3)
    cam[0, 2] = 1.0  # absent class: never prompted
    labels = torch.tensor([[1., 1., 0.]])
    seen = []

    def prompt_fn(i, points):
        seen.append(points.tolist())
        masks = torch.zeros(3, 4, 4, dtype=torch.bool)
        low = torch.zeros(3, 4, 4)
        if points[0].tolist() == [0, 0]:
            masks[2, :2, :2] = True
            low[2] = 2.0  # conf = 2 * mean(1, .5, .5, .5) = 1.25
        else:
            masks[2, 1:, 1:] = True
            low[2] = 4.0  # conf = 4 * (1 + 8 * .2) / 9 = 1.1556
            low[2, 3, 1] = -1.0  # negative confidence -> background
        masks[0] = True  # other multimask outputs are not used
        return masks, low

    label, score = cpm_pseudo_label(cam, labels, prompt_fn)
    assert seen == [[[0, 0]], [[3, 3]]]  # 4 x 4: no local peak survives the border band
    assert label[0].tolist() == [[0, 0, 3, 3], [0, 0, 1, 1], [3, 1, 1, 1], [3, 3, 1, 1]]
    assert score[0, 0, 0].item() == pytest.approx(1.25)
    assert score[0, 2, 2].item() == pytest.approx(4 * 2.6 / 9, abs=1e-5)
    assert score[0, 3, 1].item() == 0  # clamped


@pytest.fixture(scope='module')
def prompter():
    pytest.importorskip('segment_anything')
    from mmwsss.models.foundation import SegmentAnything
    torch.manual_seed(0)
    return S2CPrompter(SegmentAnything('tiny', device='cpu'))


def test_prompter_matches_sam_predictor(prompter):
    """encode + decode = SamPredictor on an image already at SAM's square input size."""
    from segment_anything import SamPredictor
    s = prompter.input_size
    img = (np.random.default_rng(0).random((s, s, 3)) * 255).astype(np.uint8)
    feats = prompter.encode(torch.from_numpy(img).permute(2, 0, 1)[None])
    coords = np.array([[10., 20.], [70., 90.]], np.float32)
    masks, iou, low = prompter.decode(feats, coords, (s, s))
    pred = SamPredictor(prompter.sam.sam)
    pred.set_image(img)
    ref_masks, ref_iou, ref_low = pred.predict(coords, np.ones(2), multimask_output=True)
    assert torch.allclose(low, torch.from_numpy(ref_low), atol=1e-4)
    assert torch.allclose(iou, torch.from_numpy(ref_iou), atol=1e-5)
    assert (masks.numpy() == ref_masks).mean() > 0.999


def test_prompter_prepare_and_prompt_fn(prompter):
    img = torch.randint(0, 256, (2, 3, 20, 36), dtype=torch.uint8)
    x = prompter.prepare(img)
    s = prompter.input_size
    assert x.shape == (2, 3, s, s) and x.dtype == torch.uint8  # square, aspect not kept
    feats = prompter.encode(x)
    masks, low = prompter.prompt_fn(feats, (20, 36))(1, np.array([[3, 5], [10, 30]]))
    assert masks.shape == (3, 20, 36) and masks.dtype == torch.bool
    assert low.shape == (3, s // 4, s // 4)


def test_prompter_builds_lazily():
    p = S2CPrompter(dict(type='SegmentAnything', arch='tiny', checkpoint='/nonexistent/sam.pth'))
    with pytest.raises(FileNotFoundError, match='/nonexistent/sam.pth'):
        p.input_size
