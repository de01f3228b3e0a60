"""Random walk shared by AffinityNet and IRN: indices, toy walks, sparse == dense."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmwsss.models.refiners.random_walk import (RW_MODES, boundary_affinity, dense_transition,
                                                feature_affinity, pair_indices, pair_offsets,
                                                pair_valid_mask, path_offsets, random_walk,
                                                random_walk_active, transition_weights)

COCO_MINI = '/work/shared/data/coco-mini'


def test_pair_offsets_by_hand():
    assert pair_offsets(2) == [(0, 1), (1, -1), (1, 0), (1, 1)]
    assert pair_offsets(3) == [(0, 1), (0, 2), (1, -2), (1, -1), (1, 0), (1, 1), (1, 2), (2, -2),
                               (2, -1), (2, 0), (2, 1), (2, 2)]
    # PSA's radius 5 has 34 pairs per pixel, IRN's training radius 10 has 152
    assert len(pair_offsets(5)) == 34
    assert len(pair_offsets(10)) == 152
    with pytest.raises(ValueError):
        pair_offsets(1)


def test_pair_indices_radius2_by_hand():
    # 3 x 4 map, flat indices
    #  0  1  2  3
    #  4  5  6  7
    #  8  9 10 11
    # sources: rows < 2, cols 1..2 -> 1, 2, 5, 6
    ind_from, ind_to = pair_indices(2, (3, 4))
    assert ind_from.tolist() == [1, 2, 5, 6]
    assert ind_to.tolist() == [
        [2, 3, 6, 7],  # (0, 1)
        [4, 5, 8, 9],  # (1, -1)
        [5, 6, 9, 10],  # (1, 0)
        [6, 7, 10, 11]
    ]  # (1, 1)
    # the cropped valid mask holds exactly these pairs
    mask = pair_valid_mask((3, 4), pair_offsets(2), crop_from=True)
    assert int(mask.sum()) == ind_to.numel()
    # without the crop every pair inside the map counts: 2 * 4 + 3 * 3 + ... by hand
    full = pair_valid_mask((3, 4), pair_offsets(2))
    assert full.sum(dim=(1, 2)).tolist() == [9, 6, 8, 6]


def test_path_offsets_by_hand():
    paths = dict(zip(pair_offsets(3), path_offsets(3)))
    assert sorted(paths[(0, 2)]) == [(0, 0), (0, 1), (0, 2)]
    assert sorted(paths[(2, 0)]) == [(0, 0), (1, 0), (2, 0)]
    # (2, 1): every cell of the 3 x 2 box is within distance 1 of the segment
    assert sorted(paths[(2, 1)]) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    # (2, 2): (0, 2) and (2, 0) are sqrt(2) away from the diagonal
    assert sorted(paths[(2, 2)]) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]


def test_boundary_affinity_by_hand():
    edge = torch.zeros(1, 3, 5)
    edge[0, 0, 1] = 0.9
    aff = boundary_affinity(edge, 3)  # offsets (0, 1), (0, 2), ...
    # row 0: pixel 0 and 1 see the 0.9 edge on their path, pixel 2 and 3 do not,
    # pixel 4 has no right partner (padded with edge 1 -> affinity 0)
    assert torch.allclose(aff[0, 0, 0], torch.tensor([0.1, 0.1, 1., 1., 0.]))
    assert torch.allclose(aff[0, 1, 0], torch.tensor([0.1, 0.1, 1., 0., 0.]))
    # below row 2 nothing exists
    assert torch.all(aff[0, 2:, 2] == 0)


def test_feature_affinity_by_hand():
    feats = torch.zeros(1, 2, 1, 3)
    feats[0, :, 0, 2] = torch.tensor([1., 3.])  # mean |diff| = 2 to the others
    aff = feature_affinity(feats, pair_offsets(2))
    e2 = float(np.exp(-2))
    assert torch.allclose(aff[0, 0, 0], torch.tensor([1., e2, 0.]))
    assert torch.all(aff[0, 1:] == 0)  # one row: no vertical pairs


def _chain():
    """1 x 3 map, a(0, 1) = 0.5, a(1, 2) = 1."""
    aff = torch.zeros(1, 4, 1, 3, dtype=torch.float64)
    aff[0, 0, 0, 0] = 0.5
    aff[0, 0, 0, 1] = 1.0
    return aff


@pytest.mark.parametrize('mode', RW_MODES)
def test_walk_on_a_chain_by_hand(mode):
    # A = [[1, .5, 0], [.5, 1, 1], [0, 1, 1]]; column sums 1.5, 2.5, 2
    # v = e0: v T = (2/3, 1/5, 0); v T^2 = (23/45, 16/75, 1/10)
    x = torch.tensor([1., 0., 0.], dtype=torch.float64).view(1, 1, 1, 3)
    out = random_walk(x, _chain(), pair_offsets(2), beta=1, logt=1, mode=mode)
    assert torch.allclose(out.flatten(),
                          torch.tensor([23 / 45, 16 / 75, 1 / 10], dtype=torch.float64))
    # beta = 2 squares the affinities: one step gives (1 / 1.25, .25 / 2.25, 0)
    out = random_walk(x, _chain(), pair_offsets(2), beta=2, logt=0, mode=mode)
    assert torch.allclose(out.flatten(), torch.tensor([0.8, 1 / 9, 0.], dtype=torch.float64))


def test_transition_matches_dense_columns():
    aff = _chain()
    w = transition_weights(aff, pair_offsets(2), beta=1)
    assert torch.allclose(w.sum(1), torch.ones(1, 1, 3, dtype=torch.float64))
    t = dense_transition(aff, pair_offsets(2), beta=1)[0]
    assert torch.allclose(t.sum(0), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(t[:, 1], torch.tensor([0.2, 0.4, 0.4], dtype=torch.float64))


def test_sparse_local_dense_agree_random():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 6, 11, 14, generator=g, dtype=torch.float64).cumsum(-1) * 0.3
    aff = feature_affinity(feats, pair_offsets(5))
    x = torch.rand(2, 3, 11, 14, generator=g, dtype=torch.float64)
    outs = {m: random_walk(x, aff, pair_offsets(5), beta=8, logt=5, mode=m) for m in RW_MODES}
    assert torch.allclose(outs['sparse'], outs['dense'], rtol=0, atol=1e-10)
    assert torch.allclose(outs['local'], outs['dense'], rtol=0, atol=1e-10)


def _real_image_inputs(size=(192, 256)):
    """A coco-mini photo at stride 8: colour + position features and CAM-like
    blobs (one bright, one faint), float32 as the refiners run."""
    folder = osp.join(COCO_MINI, 'train2017')
    name = sorted(f for f in __import__('os').listdir(folder) if f.endswith('.jpg'))[0]
    img = Image.open(osp.join(folder, name)).convert('RGB').resize(size[::-1])
    img = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 255
    small = F.avg_pool2d(img, 8)
    h, w = small.shape[-2:]
    ys = torch.linspace(0, 1, h).view(1, 1, h, 1).expand(1, 1, h, w)
    xs = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
    # strong colour term: affinities drop across object edges, as trained ones do
    feats = torch.cat([small * 40, ys, xs], 1)
    cams = torch.stack([
        torch.exp(-((ys - .4)**2 + (xs - .3)**2) / .02), 0.6 * torch.exp(-((ys - .6)**2 +
                                                                           (xs - .75)**2) / .03)
    ], 1)[:, :, 0]
    bg = (1 - cams.amax(1, keepdim=True))**16
    return feats, torch.cat([bg, cams], 1)


@pytest.mark.skipif(not osp.isdir(COCO_MINI), reason='coco-mini not available')
def test_sparse_equals_dense_on_a_real_image():
    feats, scores = _real_image_inputs()
    aff = feature_affinity(feats, pair_offsets(5))
    outs = {m: random_walk(scores, aff, pair_offsets(5), beta=8, logt=8, mode=m) for m in RW_MODES}
    ref = outs['dense']
    for m in ('sparse', 'local'):
        assert torch.allclose(outs[m], ref, rtol=1e-3, atol=1e-5)
        assert torch.equal(outs[m].argmax(1), ref.argmax(1))
    # the walk spread the labels: more than one class survives, all finite
    assert ref.argmax(1).unique().numel() == 3
    assert torch.isfinite(ref).all()


def test_active_channels_only():
    aff = feature_affinity(torch.randn(1, 4, 9, 9), pair_offsets(3))
    x = torch.zeros(1, 4, 9, 9)
    x[:, 2] = torch.rand(9, 9)
    out = random_walk_active(x, aff, pair_offsets(3), beta=8, logt=3)
    assert torch.all(out[:, [0, 1, 3]] == 0)
    assert torch.allclose(out[:, 2:3], random_walk(x[:, 2:3], aff, pair_offsets(3), 8, 3))
    # nothing active -> zeros, no NaN
    assert torch.all(random_walk_active(torch.zeros(1, 2, 9, 9), aff, pair_offsets(3), 8, 3) == 0)


def test_bad_inputs_raise():
    aff = _chain()
    x = torch.zeros(1, 1, 1, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match='NaN'):
        random_walk(x.clone().fill_(float('nan')), aff, pair_offsets(2), 1, 1)
    bad_aff = aff.clone()
    bad_aff[0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        random_walk(x, bad_aff, pair_offsets(2), 1, 1)
    with pytest.raises(ValueError, match='spatial'):
        random_walk(torch.zeros(1, 1, 2, 3), aff, pair_offsets(2), 1, 1)
    with pytest.raises(ValueError, match='offsets'):
        random_walk(x, aff, pair_offsets(3), 1, 1)
    with pytest.raises(ValueError, match='mode'):
        random_walk(x, aff, pair_offsets(2), 1, 1, mode='fast')
