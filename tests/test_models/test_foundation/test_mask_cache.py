"""On-disk SAM mask cache: round trip, keys, atomic writes."""
import os

import numpy as np
import pytest

from mmwsss.models.foundation import MaskCache, image_key


def test_roundtrip_and_keys(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((7, 9, 3)) * 255).astype(np.uint8)
    masks = rng.random((3, 7, 9)) > 0.5
    settings = dict(arch='vit_b', amg_cfg=dict(points_per_side=32))
    cache = MaskCache(str(tmp_path))
    key = image_key(img, settings, 'a.jpg')
    assert cache.get(key) is None
    path = cache.put(key, masks, scores=np.array([0.9, 0.8, 0.7], np.float32))
    got = cache.get(key)
    assert np.array_equal(got['masks'], masks) and got['masks'].dtype == bool
    assert np.allclose(got['scores'], [0.9, 0.8, 0.7])
    # no temp files left behind
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]
    # the key depends on settings, path and pixels
    assert image_key(img, dict(settings, arch='vit_h'), 'a.jpg') != key
    assert image_key(img, settings, 'b.jpg') != key
    img2 = img.copy()
    img2[0, 0, 0] ^= 1
    assert image_key(img2, settings, 'a.jpg') != key
    assert image_key(img.copy(), dict(settings), 'a.jpg') == key
    # empty mask sets round-trip too
    cache.put('00empty', np.zeros((0, 7, 9), bool))
    assert cache.get('00empty')['masks'].shape == (0, 7, 9)


def test_corrupt_entry_is_reported(tmp_path):
    cache = MaskCache(str(tmp_path))
    path = cache.path('abcdef')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(b'not an npz')
    with pytest.raises(RuntimeError, match='abcdef.npz'):
        cache.get('abcdef')
