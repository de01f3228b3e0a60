"""The offline prototype path: dump files, per-class clustering + selection, the banks."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmwsss.models.prototypes.offline import (class_pools, cluster_prototypes, load_dump,
                                              load_prototype_bank, save_dump, save_prototypes,
                                              selected)


def _t(x):
    return torch.tensor(x, dtype=torch.float32)


def _dump(tmp_path, name, feat, keys, cam):
    path = str(tmp_path / f'{name}.npz')
    save_dump(path, _t(feat), keys, _t(cam))
    return path


def test_dump_roundtrip_and_nearest_mask(tmp_path):
    feat = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)
    cam = np.zeros((1, 4, 6), dtype=np.float32)
    cam[0, :2, :2] = 1.0  # the top-left 2x2 block of the image = feature cell (0, 0)
    path = _dump(tmp_path, 'a', feat, [7], cam)
    data = load_dump(path)
    assert data['keys'].tolist() == [7] and data['feat'].shape == (2, 2, 3)
    assert data['cam'][0].tolist() == [[1., 0., 0.], [0., 0., 0.]]
    fg, ctx = class_pools([path], 7, 0.1)
    assert fg.tolist() == [[0., 6.]] and ctx.shape == (5, 2)
    with pytest.raises(ValueError, match='does not hold class 3'):
        class_pools([path], 3, 0.1)


def test_bad_dump_names_the_file(tmp_path):
    path = str(tmp_path / 'bad.npz')
    np.savez(path, feat=np.zeros((2, 2, 2), np.float32), keys=np.zeros(1, np.int64))
    with pytest.raises(KeyError, match=r'bad\.npz lacks \[.cam.\]'):
        load_dump(path)
    np.savez(
        path,
        feat=np.zeros((2, 2, 2), np.float32),
        keys=np.zeros(2, np.int64),
        cam=np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match='bad.npz: cam'):
        load_dump(path)
    with open(path, 'wb') as f:
        f.write(b'not a zip')
    with pytest.raises(ValueError, match='bad.npz is not a valid'):
        load_dump(path)


def _two_class_dumps(tmp_path):
    """Class 0 on images a, b; class 1 on b. Features 2-d; the classifier says channel 0
    is class 0 and channel 1 class 1 (W = 4 * I)."""
    # image a: fg pixels point along (1, 0) (two norms), context along (0, 1)
    a = _dump(tmp_path, 'a', [[[5., 4., 0.]], [[0., 0., 3.]]], [0], [[[0.9, 0.5, 0.0]]])
    # image b: class 0 fg (1, 0.1); class 1 fg (0.1, 1) pixel 1; pixel 2 is context of both
    b = _dump(tmp_path, 'b', [[[6., 0.2, 1.]], [[0.6, 2., 1.]]], [0, 1],
              [[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])
    return {0: [a, b], 1: [b]}


def test_cluster_and_select_by_hand(tmp_path):
    w = _t([[4., 0.], [0., 4.]])
    logs = []
    out = cluster_prototypes(_two_class_dumps(tmp_path), w, num_clusters=2, seed=0, log=logs.append)
    # class 0: fg pool (5,0), (4,0), (6,0.6): one direction -> 2 clusters, all p0 > 0.9
    sizes = out['fg_sizes'][0]
    assert sorted(sizes.tolist()) == [1, 2] and out['fg_keep'][0].all()
    fg = out['fg_centers'][0][np.argsort(sizes)]
    assert np.allclose(fg[1], [4.5, 0.0]) or np.allclose(fg[1], [5.5, 0.3])
    # its context pool: (0, 3) from a, (0.2, 2) and (1, 1) from b
    ctx_p = out['ctx_probs'][0]
    for center, p, keep in zip(out['ctx_centers'][0], ctx_p, out['ctx_keep'][0]):
        logit = center @ w.numpy().T
        expect = np.exp(logit[0]) / np.exp(logit).sum()
        assert abs(p - expect) < 1e-5 and keep == (0.05 < expect < 0.9)
    # class 1: fg (0.2, 2) only -> one centre, p1 = 1/(1+e^(-7.2)) > 0.9
    assert out['fg_sizes'][1].tolist() == [1, 0] and out['fg_keep'][1].tolist() == [True, False]
    assert np.allclose(out['fg_centers'][1][0], [0.2, 2.0])
    assert len(logs) == 2 and 'class 1: 1 images, fg pool 1' in logs[1]


def test_save_load_banks(tmp_path):
    w = _t([[4., 0.], [0., 4.]])
    out = cluster_prototypes(_two_class_dumps(tmp_path), w, num_clusters=2, log=lambda m: None)
    proto_dir = str(tmp_path / 'protos')
    save_prototypes(proto_dir, out, dict(num_clusters=2))
    meta = json.load(open(osp.join(proto_dir, 'meta.json')))
    assert meta['class_prototypes'] == [2, 1] and meta['num_clusters'] == 2
    bank = load_prototype_bank(osp.join(proto_dir, 'centers.npz'), 2, 2)
    assert bank.update == 'fixed' and bank.protos.shape == (2, 2, 2)
    assert bank.valid.tolist() == [[True, True], [True, False]]
    assert torch.allclose(bank.protos[1, 0], _t([0.2, 2.0]))
    with pytest.raises(ValueError, match='expected \\(3, S, 2\\)'):
        load_prototype_bank(osp.join(proto_dir, 'centers.npz'), 3, 2)
    with pytest.raises(RuntimeError):
        bank.write(torch.zeros(1, 2, 2), torch.ones(1, 2))


def test_selected_pads_to_the_largest_class():
    centers = np.arange(2 * 3 * 1, dtype=np.float32).reshape(2, 3, 1)
    keep = np.array([[True, False, True], [False, False, False]])
    out, valid = selected(centers, keep)
    assert out[:, :, 0].tolist() == [[0., 2.], [0., 0.]]
    assert valid.tolist() == [[True, True], [False, False]]
    out, valid = selected(centers, np.zeros((2, 3), bool))
    assert out.shape == (2, 1, 1) and not valid.any()  # always one slot
