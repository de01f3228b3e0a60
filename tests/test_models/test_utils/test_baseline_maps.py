"""PSDPM's baseline probability maps: plain arrays only, clear errors, no silent skip."""
import os.path as osp

import numpy as np
import pytest
import torch

from mmwsss.models.utils.baseline_maps import load_baseline_probs, load_batch_baseline_probs
from mmwsss.utils.io import atomic_save_npz


def test_npy_npz_and_cam_files(tmp_path):
    probs = np.random.default_rng(0).random((3, 4, 6)).astype(np.float32)
    np.save(osp.join(tmp_path, 'a.npy'), probs)
    out = load_baseline_probs(str(tmp_path), '/d/JPEGImages/a.jpg', 2)
    assert torch.equal(out, torch.from_numpy(probs))
    np.savez(osp.join(tmp_path, 'b.npz'), msc_seg=probs[None])  # (1, K, H, W) squeezed
    assert torch.equal(
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/b.jpg', 2), torch.from_numpy(probs))
    # project CAM file: fg of class 1 only; bg = 1 - max fg
    cam = np.full((1, 4, 6), 0.25, np.float32)
    atomic_save_npz(osp.join(tmp_path, 'cams', 'c.npz'), keys=np.array([1]), cams=cam)
    out = load_baseline_probs(str(tmp_path), '/d/JPEGImages/c.jpg', 2)
    assert torch.allclose(out[0], torch.full((4, 6), 0.75))
    assert torch.equal(out[1], torch.zeros(4, 6))
    assert torch.allclose(out[2], torch.full((4, 6), 0.25))
    assert torch.allclose(
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/c.jpg', 2, bg=0.3)[0],
        torch.full((4, 6), 0.3))
    # resize (bilinear, align_corners=False) and flip
    flipped = load_baseline_probs(str(tmp_path), '/d/JPEGImages/a.jpg', 2, flip=True)
    assert torch.equal(flipped, torch.from_numpy(probs).flip(-1))
    small = load_baseline_probs(str(tmp_path), '/d/JPEGImages/a.jpg', 2, size=(2, 3))
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(probs)[None], size=(2, 3), mode='bilinear', align_corners=False)[0]
    assert torch.allclose(small, ref)


def test_batch_reads_each_grid_from_the_full_map(tmp_path):
    probs = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    np.save(osp.join(tmp_path, 'a.npy'), probs)
    s1, s2 = load_batch_baseline_probs(
        str(tmp_path), [dict(img_path='/d/JPEGImages/a.jpg')], 2, [(4, 4), (2, 2)])
    full = torch.from_numpy(probs)[None]
    f = torch.nn.functional.interpolate
    assert torch.allclose(s2, f(full, size=(2, 2), mode='bilinear', align_corners=False))
    assert not torch.allclose(s2, f(s1, size=(2, 2), mode='bilinear', align_corners=False))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='/d/JPEGImages/missing.jpg'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/missing.jpg', 2)
    # the official pickled dict: refused, never unpickled
    np.save(osp.join(tmp_path, 'p.npy'), {'msc_seg': np.zeros((3, 2, 2))}, allow_pickle=True)
    with pytest.raises(ValueError, match=r'p\.npy.*pickle'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/p.jpg', 2)
    np.save(osp.join(tmp_path, 'w.npy'), np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r'w\.npy.*\(3, H, W\)'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/w.jpg', 2)
    bad = np.zeros((3, 2, 2), np.float32)
    bad[0, 0, 0] = np.nan
    np.save(osp.join(tmp_path, 'n.npy'), bad)
    with pytest.raises(ValueError, match='non-finite'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/n.jpg', 2)
    np.save(osp.join(tmp_path, 'i.npy'), np.zeros((3, 2, 2), np.int64))
    with pytest.raises(ValueError, match='float'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/i.jpg', 2)
    np.savez(osp.join(tmp_path, 'k.npz'), other=np.zeros(3))
    with pytest.raises(KeyError, match='msc_seg'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/k.jpg', 2)
    open(osp.join(tmp_path, 't.npy'), 'wb').write(b'garbage')
    with pytest.raises(ValueError, match=r't\.npy'):
        load_baseline_probs(str(tmp_path), '/d/JPEGImages/t.jpg', 2)
