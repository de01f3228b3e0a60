import numpy as np
import pytest

from mmwsss.datasets.transforms import RandomResizeLong


def _results(h=24, w=32):
    seg = np.zeros((h, w), np.uint8)
    seg[:, w // 2:] = 7
    return dict(
        img=np.zeros((h, w, 3), np.uint8),
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_seg_map=seg,
        seg_fields=['gt_seg_map'])


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_fixed_long_side(backend):
    res = RandomResizeLong(20, 20, backend=backend)(_results())
    # long side 32 -> 20, short side 24 * 20 / 32 = 15
    assert res['img'].shape == (15, 20, 3) and res['img_shape'] == (15, 20)
    assert res['scale_factor'] == (20 / 32, 15 / 24)
    assert res['gt_seg_map'].shape == (15, 20)
    # nearest on the seg map: the left/right halves survive, no mixed values
    assert set(np.unique(res['gt_seg_map'])) == {0, 7}
    assert (res['gt_seg_map'][:, :10] == 0).all() and (res['gt_seg_map'][:, 10:] == 7).all()
    # a portrait image: the long side is the height
    res = RandomResizeLong(16, 16, backend=backend)(_results(h=32, w=8))
    assert res['img'].shape == (16, 4, 3)


def test_range_is_inclusive_integers():
    np.random.seed(0)
    t = RandomResizeLong(10, 12)
    longs = {max(t(_results())['img'].shape[:2]) for _ in range(60)}
    assert longs == {10, 11, 12}


def test_bad_range():
    with pytest.raises(ValueError):
        RandomResizeLong(30, 20)
