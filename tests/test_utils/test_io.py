"""Atomic writers and safe readers of mmwsss.utils.io (names, modes, leftovers, pickle)."""
import os
import os.path as osp

import numpy as np
import pytest

from mmwsss.utils.io import (atomic_save_npz, atomic_write_png, atomic_write_text, is_temp_name,
                             load_npz, output_key, read_cams_npz, remove_stale_temp_files,
                             temp_path_for)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_outputs_get_the_umask_mode(tmp_path, umask_027):
    """mkstemp made every output 0600 whatever the umask."""
    atomic_write_png(str(tmp_path / 'a.png'), np.zeros((2, 3), np.uint8))
    atomic_save_npz(str(tmp_path / 'cams' / 'a.npz'), cams=np.zeros((1, 2, 3), np.float16))
    atomic_write_text(str(tmp_path / 'a.txt'), 'x')
    for name in ('a.png', 'cams/a.npz', 'a.txt'):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o640, name


def test_temp_names_are_hidden_and_recognised(tmp_path):
    tmp = temp_path_for(str(tmp_path / '2007_000032.png'))
    name = osp.basename(tmp)
    assert name.startswith('.2007_000032.png.') and name.endswith('.tmp')
    assert is_temp_name(name) and is_temp_name('.tmp-abc123.png')  # the old naming
    assert not is_temp_name('2007_000032.png') and not is_temp_name('a.tmp')
    assert osp.dirname(tmp) == str(tmp_path)


def test_failed_write_leaves_nothing(tmp_path):

    def boom(f):
        f.write(b'half')
        raise KeyboardInterrupt

    from mmwsss.utils.io import atomic_write
    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(tmp_path / 'x.png'), boom)
    assert os.listdir(tmp_path) == []


def test_remove_stale_temp_files(tmp_path):
    (tmp_path / 'sub').mkdir()
    stale = ['.a.png.12-ab.tmp', '.tmp-xyz.npz', 'sub/.b.png.3-cd.tmp']
    keep = ['a.png', 'sub/b.png', '.hidden_config']
    for name in stale + keep:
        (tmp_path / name).write_bytes(b'')
    removed = remove_stale_temp_files(str(tmp_path))
    assert sorted(osp.relpath(p, tmp_path) for p in removed) == sorted(stale)
    assert all((tmp_path / k).exists() for k in keep)


def test_output_key_keeps_folders(tmp_path):
    root = str(tmp_path / 'images')
    assert output_key(f'{root}/a/01.jpg', root) == 'a/01'
    assert output_key(f'{root}/b/01.jpg', root) == 'b/01'
    assert output_key(f'{root}/01.jpg', root) == '01'
    assert output_key(f'{root}/x/01.jpg') == '01'
    with pytest.raises(ValueError, match='not inside the image folder'):
        output_key(str(tmp_path / 'elsewhere' / '01.jpg'), root)


class _Payload:

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def _npz_with_pickled_array(path, marker):
    # what np.savez writes for an object array: a pickle inside the zip
    np.savez(path, keys=np.array([0]), cams=np.array([_Payload(marker)], dtype=object))


def test_npz_readers_refuse_pickled_arrays(tmp_path):
    marker = tmp_path / 'PWNED'
    path = str(tmp_path / 'cam.npz')
    _npz_with_pickled_array(path, marker)
    with pytest.raises(ValueError, match=r"cam\.npz: array 'cams' needs pickle"):
        load_npz(path)
    with pytest.raises(ValueError, match=r"CAM file .*cam\.npz: array 'cams' needs pickle"):
        read_cams_npz(path)
    assert not marker.exists()
    with pytest.raises(TypeError, match='dtype object'):
        atomic_save_npz(str(tmp_path / 'obj.npz'), x=np.array([{}], dtype=object))
    assert not (tmp_path / 'obj.npz').exists()


def test_sam_mask_cache_refuses_pickled_entry(tmp_path):
    from mmwsss.models.foundation.mask_cache import MaskCache
    marker = tmp_path / 'PWNED'
    cache = MaskCache(str(tmp_path / 'cache'))
    key = 'ab' + '0' * 38
    os.makedirs(osp.dirname(cache.path(key)))
    np.savez(
        cache.path(key),
        packed=np.packbits(np.ones(4, bool)),
        shape=np.array([1, 2, 2]),
        scores=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(RuntimeError, match=r'corrupt SAM mask cache entry .*needs pickle'):
        cache.get(key)
    assert not marker.exists()
    # a good entry round-trips; its file is not a temp name and gets the umask's mode
    masks = np.array([[[True, False], [False, True]]])
    path = cache.put('cd' + '1' * 38, masks, scores=np.array([0.5], np.float32))
    assert np.array_equal(cache.get('cd' + '1' * 38)['masks'], masks)
    assert not is_temp_name(osp.basename(path))


def test_truncated_npz_named(tmp_path):
    path = str(tmp_path / 'c.npz')
    atomic_save_npz(path, keys=np.array([1]), cams=np.zeros((1, 2, 2), np.float32))
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'c\.npz is not a valid \.npz file'):
        read_cams_npz(path)


def test_atomic_write_image_refuses_an_unknown_extension_by_name(tmp_path):
    import cv2

    from mmwsss.utils.io import atomic_write_image
    img = np.zeros((3, 5, 3), np.uint8)
    img[1, 2] = (10, 20, 30)
    atomic_write_image(str(tmp_path / 'a.png'), img)
    assert np.array_equal(cv2.imread(str(tmp_path / 'a.png')), img)
    with pytest.raises(OSError, match=r'could not write .*a\.nope'):
        atomic_write_image(str(tmp_path / 'a.nope'), img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.png']  # no temp file left
