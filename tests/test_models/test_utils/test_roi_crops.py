"""ToCo's ROI map and uncertain-region local crops, with hand-worked positions and flags."""
import pytest
import torch

from mmwsss.models.utils.roi_crops import cam_to_roi_mask, crop_from_roi_neg


def test_roi_thresholds_at_the_boundaries():
    # one present class (0) and one absent class (1) whose CAM is high everywhere
    v = torch.tensor([0.0, 0.25, 0.2500001, 0.5, 0.6999, 0.7, 1.0])
    cam = torch.stack([v, torch.ones_like(v)]).reshape(1, 2, 1, 7)
    labels = torch.tensor([[1., 0.]])
    roi = cam_to_roi_mask(cam, labels)
    # <= .25 -> 0 (both 0 and exactly .25), >= .7 -> 2 (exactly .7 and 1), else 1
    assert roi.dtype == torch.long
    assert roi.tolist() == [[[0, 0, 1, 1, 1, 2, 2]]]
    # the max is over present classes: with class 1 present everything is 2
    assert cam_to_roi_mask(cam, torch.ones(1, 2)).tolist() == [[[2] * 7]]
    # custom thresholds
    assert cam_to_roi_mask(cam, labels, low=0.5, high=0.9).tolist() == [[[0, 0, 0, 0, 1, 1, 2]]]


def _coord_image(h, w):
    """(1, 3, h, w): channel 0 = row, channel 1 = column, channel 2 = 10 * row + column."""
    ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    xs = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    return torch.stack([ys, xs, 10 * ys + xs])[None]


def _corners(crops):
    """Top-left (y0, x0) of each crop of image 0, read off the coordinate image."""
    return [(int(c[0, 0, 0, 0]), int(c[0, 1, 0, 0])) for c in crops]


def test_flags_at_exactly_the_threshold():
    # 7x7 image, 5x5 crops: margin 2, candidates roi[2:5, 2:5] = 3x3, corners y0, x0 in {0,1,2}
    # roi is 0 on the candidate pixels, so all 9 are drawn (crop_num = 9)
    roi = torch.zeros(1, 7, 7, dtype=torch.long)
    roi[0, 0, 0:3] = torch.tensor([2, 2, 1])  # row 0: sum 5 in cols 0..2
    roi[0, 6, 4:7] = torch.tensor([2, 2, 2])  # row 6: sum 6 in cols 4..6
    # crop sums (crop = rows y0..y0+4, cols x0..x0+4), ratio = sum / 25, negative if <= .2:
    #   y0=0: x0=0 -> 2+2+1 = 5 (.20, neg: exactly the threshold), x0=1 -> 2+1 = 3, x0=2 -> 1
    #   y0=1: rows 1..5 hold nothing -> 0
    #   y0=2: x0=0 -> roi[6,4] = 2, x0=1 -> 2+2 = 4 (.16), x0=2 -> 2+2+2 = 6 (.24, POSITIVE)
    expected = {(y, x): 0 for y in range(3) for x in range(3)}
    expected[(2, 2)] = 1
    img = _coord_image(7, 7)
    crops, flags = crop_from_roi_neg(
        img, roi, crop_num=9, crop_size=5, generator=torch.Generator().manual_seed(0))
    assert len(crops) == 9 and all(c.shape == (1, 3, 5, 5) for c in crops)
    assert flags.shape == (1, 11) and flags.dtype == torch.long
    assert flags[0, :2].tolist() == [1, 1]  # global views
    corners = _corners(crops)
    assert sorted(corners) == sorted(expected)  # every position once
    for k, (y0, x0) in enumerate(corners):
        assert flags[0, 2 + k].item() == expected[(y0, x0)], (y0, x0)
        assert torch.equal(crops[k][0], img[0, :, y0:y0 + 5, x0:x0 + 5])
    # raising the threshold just above .24 turns the last positive negative
    _, flags = crop_from_roi_neg(img, roi, crop_num=9, crop_size=5, neg_thr=0.25)
    assert flags[0, 2:].sum().item() == 0


def test_only_non_confident_centres_are_drawn():
    # 8x8, 4x4 crops: margin 2, candidates roi[2:6, 2:6] (4x4 corners 0..3), crop centre =
    # corner + 2. Mark every candidate centre confident (2) except (3, 4) and (5, 2)
    # -> only corners (1, 2) and (3, 0) are valid.
    roi = torch.zeros(1, 8, 8, dtype=torch.long)
    roi[0, 2:6, 2:6] = 2
    roi[0, 3, 4] = 1
    roi[0, 5, 2] = 0
    img = _coord_image(8, 8)
    for seed in range(5):
        crops, flags = crop_from_roi_neg(
            img, roi, crop_num=2, crop_size=4, generator=torch.Generator().manual_seed(seed))
        assert sorted(_corners(crops)) == [(1, 2), (3, 0)]
        # crop (1, 2): rows 1..4, cols 2..5 -> 2s on rows 2..4 x cols 2..5 (12 px) except
        #   (3, 4) = 1: 11 * 2 + 1 = 23 > .2 * 16 = 3.2 -> positive; same for (3, 0):
        #   rows 3..6, cols 0..3 -> rows 3..5 x cols 2..3 = 6 px, (5, 2) = 0: 5 * 2 = 10 -> pos
        assert flags[0].tolist() == [1, 1, 1, 1]


def test_fallback_to_all_positions():
    # only one valid centre for crop_num = 3 -> ToCo draws from every position instead
    roi = torch.full((1, 6, 6), 2, dtype=torch.long)
    roi[0, 2, 2] = 0
    img = _coord_image(6, 6)
    seen = set()
    for seed in range(20):
        crops, flags = crop_from_roi_neg(
            img, roi, crop_num=3, crop_size=4, generator=torch.Generator().manual_seed(seed))
        corners = _corners(crops)
        assert len(set(corners)) == 3  # without replacement
        seen.update(corners)
        assert flags[0, 2:].tolist() == [1, 1, 1]  # mostly-2 crops are positive
    # candidates roi[2:4, 2:4] -> corners {0, 1}^2; 20 draws of 3 out of 4 reach all of them
    assert seen == {(0, 0), (0, 1), (1, 0), (1, 1)}


def _reference(images, roi, crop_num, crop_size):
    """Literal per-image, per-crop loop of ToCo's algorithm (global RNG, one randperm/image)."""
    b, c, h, w = images.shape
    m = crop_size // 2
    crops = torch.zeros(b, crop_num, c, crop_size, crop_size)
    flags = torch.ones(b, crop_num + 2)
    for i in range(b):
        idx = (roi[i, m:h - m, m:w - m] <= 1).nonzero()
        if idx.shape[0] < crop_num:
            idx = (roi[i, m:h - m, m:w - m] >= 0).nonzero()
        pick = idx[torch.randperm(idx.shape[0])[:crop_num]]
        for k in range(crop_num):
            y0, x0 = pick[k, 0], pick[k, 1]
            crops[i, k] = images[i, :, y0:y0 + crop_size, x0:x0 + crop_size]
            if roi[i, y0:y0 + crop_size, x0:x0 + crop_size].sum() / (crop_size**2) <= 0.2:
                flags[i, k + 2] = 0
    return [crops[:, k] for k in range(crop_num)], flags


def test_matches_the_loop_with_the_global_rng():
    g = torch.Generator().manual_seed(3)
    images = torch.rand(3, 3, 40, 36, generator=g)
    cam = torch.rand(3, 2, 40, 36, generator=g)
    labels = torch.tensor([[1., 0.], [1., 1.], [0., 1.]])
    roi = cam_to_roi_mask(cam, labels)
    roi[2] = 2  # image 2 falls back to all positions
    torch.manual_seed(11)
    ref_crops, ref_flags = _reference(images, roi, 8, 12)
    torch.manual_seed(11)
    crops, flags = crop_from_roi_neg(images, roi, crop_num=8, crop_size=12)
    assert torch.equal(flags, ref_flags.long())
    for a, r in zip(crops, ref_crops):
        assert torch.equal(a, r)
    # and a seeded generator is reproducible and independent of the global RNG
    a, fa = crop_from_roi_neg(images, roi, 8, 12, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(123)
    b, fb = crop_from_roi_neg(images, roi, 8, 12, generator=torch.Generator().manual_seed(5))
    assert torch.equal(fa, fb) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_checks():
    with pytest.raises(ValueError):  # 6x6 with 4x4 crops has 2x2 = 4 positions < 5
        crop_from_roi_neg(
            torch.zeros(1, 3, 6, 6),
            torch.zeros(1, 6, 6, dtype=torch.long),
            crop_num=5,
            crop_size=4)
    with pytest.raises(ValueError):
        crop_from_roi_neg(torch.zeros(1, 3, 6, 6), torch.zeros(1, 5, 6, dtype=torch.long))
