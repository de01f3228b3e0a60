"""FMA's SAM side and seeding rules (mmwsss.models.foundation.fma), numbers by hand."""
import math

import numpy as np
import pytest
import torch

from mmwsss.models.foundation.fma import (FMA_AMG_PRESET, fma_caa, fma_sams_seed, fma_score,
                                          load_fma_masks, rock_sand_water_filter, save_fma_masks)


def _box(h, w, rows, cols):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1] = True
    return m


# ------------------------------------------------------------------- SAMS
def sams_toy():
    """4 x 4 image, classes 0 and 2 present; masks in input order B, C, A.

    B (level 1) rows 0-1 cols 0-1; C (level 1) rows 0-1 cols 1-2; A (level 2) rows 1-2
    cols 0-3. cam0 = 1 on B; cam1 (class 2) = 1 on row 2.
    Mean scores  B: (1, 0)  C: (.5, 0)  A: (.25, .5)
    min-max      class 0: B 1, C 1/3, A 0;  class 2: B 0, C 0, A 1
    B -> class 0 (label 1), conf .75 / (.75 + 1e-7)
    C -> bg, conf (1 - 1/3)^0.7 = 0.752898
    A -> class 2 (label 3), conf .5 / (.5 + 1e-7)
    paint order (level, conf): C, B, A.
    """
    cam = torch.zeros(2, 4, 4)
    cam[0, 0:2, 0:2] = 1
    cam[1, 2, :] = 1
    masks = torch.stack([
        _box(4, 4, (0, 1), (0, 1)),
        _box(4, 4, (0, 1), (1, 2)),
        _box(4, 4, (1, 2), (0, 3)),
    ])
    levels = torch.tensor([1, 1, 2])
    return cam, masks, levels


def test_sams_paint_order_by_level_then_conf():
    cam, masks, levels = sams_toy()
    label = fma_sams_seed(cam, masks, levels, bg_pow=0.7, fg_cls=[0, 2])
    expected = torch.tensor([
        [1, 1, 0, 0],  # B (conf ~1) over C (conf 0.753); (0, 3) uncovered
        [3, 3, 3, 3],  # A (level 2) over both level-1 masks
        [3, 3, 3, 3],
        [0, 0, 0, 0],  # uncovered
    ])
    assert torch.equal(label, expected)
    # painting in input order (B, C, A) would give C's 0 at (0, 1): the sort matters
    assert (0.75 / (0.75 + 1e-7)) > (2 / 3)**0.7 == pytest.approx(0.752898, abs=1e-6)


def test_sams_level_beats_conf():
    cam, masks, _ = sams_toy()
    # all on one level: order by conf only: C (.753), A (.9999998), B (.99999987)
    label = fma_sams_seed(cam, masks, torch.zeros(3), bg_pow=0.7, fg_cls=[0, 2])
    assert label[1].tolist() == [1, 1, 3, 3]  # B now painted last, over A
    assert label[0].tolist() == [1, 1, 0, 0]


def test_sams_bg_power_and_no_masks():
    cam, masks, levels = sams_toy()
    # with p = 3, C's bg = (2/3)^3 = 0.296 < 1/3: C becomes class 0
    label = fma_sams_seed(cam, masks, levels, bg_pow=3.0, fg_cls=[0, 2])
    assert label[0, 2] == 1
    empty = fma_sams_seed(cam, masks[:0], levels[:0])
    assert torch.equal(empty, torch.zeros(4, 4, dtype=torch.long))
    # negative CAM values are cut at 0 first (ReLU)
    label2 = fma_sams_seed(cam - 5 * (cam == 0).float(), masks, levels, 0.7, fg_cls=[0, 2])
    assert torch.equal(label2, fma_sams_seed(cam, masks, levels, 0.7, fg_cls=[0, 2]))


# -------------------------------------------------------- rock-sand-water
def rsw_toy():
    """2 x 10 masks (index: level, pixels):

    0: l0 row1 cols 0-1       recall vs kept {2, 4} = 0 -> kept (overlaps dropped 1)
    1: l1 rows 0-1 cols 0-3   8 px, 4 in mask 2 -> 0.5 -> dropped
    2: l2 row0 cols 0-4       highest level: kept
    3: l0 row1 cols 1-9 + row0 col 7   10 px, 1 in mask 4 -> 0.1 -> kept (its overlap
       with mask 0, same level, does not count)
    4: l1 row0 cols 5-9       0 in mask 2 -> kept
    5: l0 row0 cols 7-9 + row1 cols 3-9   10 px, 3 in mask 4 -> 0.3, not < 0.3 -> dropped
    6: l0 row0 cols 4-5       2 px, 1 in mask 2 -> 0.5 -> dropped
    """
    m = torch.zeros(7, 2, 10, dtype=torch.bool)
    m[0, 1, 0:2] = True
    m[1, 0:2, 0:4] = True
    m[2, 0, 0:5] = True
    m[3, 1, 1:10] = True
    m[3, 0, 7] = True
    m[4, 0, 5:10] = True
    m[5, 0, 7:10] = True
    m[5, 1, 3:10] = True
    m[6, 0, 4:6] = True
    levels = torch.tensor([0, 1, 2, 0, 1, 0, 0])
    return m, levels


@pytest.mark.parametrize('chunk', [0, 1, 2, 50])
def test_rock_sand_water(chunk):
    masks, levels = rsw_toy()
    keep = rock_sand_water_filter(masks, levels, thresh=0.3, chunk_size=chunk)
    # level 2 first, then level 1 survivors, then level 0 survivors (input order)
    assert keep.tolist() == [2, 4, 0, 3]


def test_rock_sand_water_no_top_level():
    masks, levels = rsw_toy()
    sub = torch.tensor([0, 1, 3, 4, 5, 6])  # drop the level-2 mask
    keep = rock_sand_water_filter(masks[sub], levels[sub], thresh=0.3)
    # level 1 (masks 1, 4) kept whole; level 0: 0 -> 2/2 in mask 1: dropped; 3 -> 3/10
    # in mask 1 (row 1 cols 1-3): 0.3, dropped; 5 -> 3/10 in mask 4: dropped; 6 -> 1/2 in
    # mask 4: dropped
    assert sub[keep].tolist() == [1, 4]
    keep = rock_sand_water_filter(masks[sub], levels[sub], thresh=0.31)
    assert sub[keep].tolist() == [1, 4, 3, 5]  # 0.3 < 0.31: masks 3 and 5 survive


# ------------------------------------------------------------------- CAA
def test_fma_score_and_caa_identity():
    cams = torch.tensor([[[-1.0, 0.5], [2.0, 1.0]]])
    score = fma_score(cams)
    assert torch.allclose(score, torch.tensor([[[0.0, 0.25], [1.0, 0.5]]]), atol=1e-6)
    # identity attention: the affinity is the identity, so CAA only applies the box mask
    # (the last row / column are never inside a box: CLIP-ES's clipping quirk)
    attn = torch.eye(4)
    out_score = fma_caa(cams, attn, sinkhorn_iters=1, power=2, box_thr=0.0, at='score')
    assert torch.allclose(out_score, torch.tensor([[[0.0, 0.0], [0.0, 0.0]]]))
    big = torch.arange(16.).view(1, 4, 4)
    out = fma_caa(big, torch.eye(16), 1, 2, box_thr=0.0, at='cam')
    expected = big.clone()
    expected[0, 3, :] = 0
    expected[0, :, 3] = 0
    assert torch.allclose(out, expected)
    assert torch.equal(fma_caa(big, torch.eye(16), 1, 0, at='cam'), big)


def test_fma_caa_matrix_power():
    """Sinkhorn 1 round + symmetrise + matrix power 2 on a 2-patch attention."""
    attn = torch.tensor([[3.0, 1.0], [1.0, 1.0]])
    # col norm: [[.75, .5], [.25, .5]]; row norm: [[.6, .4], [1/3, 2/3]]
    # sym: [[.6, 11/30], [11/30, 2/3]]; squared:
    t = torch.tensor([[0.6, 11 / 30], [11 / 30, 2 / 3]])
    t2 = t @ t
    cams = torch.tensor([[[1.0, 0.0]]])  # (1, 1, 2); score = [1, 0]
    # box_thr 0: threshold int(0 * 255) = 0, pixels > 0 -> the first patch only; its box
    # is clipped by the last column rule -> the mask is empty unless w > 1 ... use at=cam
    out = fma_caa(cams, attn, sinkhorn_iters=1, power=2, box_thr=0.0, at='cam')
    # mask: box of patch (0, 0) = x 0..1 clipped to w - 1 = 1 -> column 0 only, row 0..1
    # clipped to h - 1 = 0 -> empty: the clipping quirk empties 1-row maps
    assert torch.allclose(out, torch.zeros_like(out))
    # a 2-row map keeps the top-left patch: src = [1, 0, 0, 0] on a 4-patch grid
    attn4 = torch.block_diag(attn, attn)
    cams4 = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    out4 = fma_caa(cams4, attn4, 1, 2, box_thr=0.0, at='cam').flatten()
    assert torch.allclose(out4[:2], t2[:, 0], atol=1e-6)
    assert torch.allclose(out4[2:], torch.zeros(2))
    assert math.isclose(float(t2[0, 0]), 0.6**2 + (11 / 30)**2, rel_tol=1e-6)


# ------------------------------------------------------------ mask store
def test_mask_store_roundtrip(tmp_path):
    masks = np.random.default_rng(0).random((3, 5, 7)) > 0.5
    path = save_fma_masks(str(tmp_path), '2007_000032', masks, np.array([2, 0, 1]))
    assert path.endswith('2007_000032.npz')
    got = load_fma_masks(str(tmp_path), '2007_000032')
    assert np.array_equal(got['masks'], masks)
    assert got['levels'].tolist() == [2, 0, 1]
    assert load_fma_masks(str(tmp_path), 'missing') is None
    assert load_fma_masks(str(tmp_path / 'nowhere'), 'x') is None


def test_preset_values():
    assert FMA_AMG_PRESET['pred_iou_thresh'] == 0.86
    assert FMA_AMG_PRESET['stability_score_thresh'] == 0.92
    assert FMA_AMG_PRESET['crop_n_layers'] == 1
    assert FMA_AMG_PRESET['crop_n_points_downscale_factor'] == 2
    assert FMA_AMG_PRESET['min_mask_region_area'] == 100
    assert FMA_AMG_PRESET['score_thresh_offset'] == (0.0, 0.0, 0.1)
    assert FMA_AMG_PRESET['score_nms_offset'] == (0.0, 0.0, 1.0)
    assert FMA_AMG_PRESET['rock_sand_water_thresh'] == 0.3
    assert FMA_AMG_PRESET['rock_sand_water_chunk_size'] == 50


# ------------------------------------------------------------- generator
AMG = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)


@pytest.fixture(scope='module')
def image():
    return (np.random.default_rng(0).random((30, 50, 3)) * 255).astype(np.uint8)


def test_generator_matches_stock_without_offsets(image):
    pytest.importorskip('segment_anything')
    from mmwsss.models.foundation import FMASegmentAnything, SegmentAnything
    torch.manual_seed(0)
    stock = SegmentAnything('tiny', amg_cfg=AMG, device='cpu')
    fma = FMASegmentAnything('tiny', amg_cfg=AMG, device='cpu')
    fma.sam.load_state_dict(stock.sam.state_dict())
    a, b = stock.generate(image), fma.generate(image)
    assert np.array_equal(a['masks'], b['masks'])
    assert np.allclose(a['scores'], b['scores'])
    assert np.array_equal(a['boxes'], b['boxes'])
    assert set(b['levels'].tolist()) <= {0, 1, 2}
    assert b['levels'].shape == (len(b['masks']), )


def test_generator_offsets_and_filter(image):
    pytest.importorskip('segment_anything')
    from mmwsss.models.foundation import FMASegmentAnything
    torch.manual_seed(0)
    # IoU offsets of -10 on levels 0 and 1: with a positive threshold only level 2 remains
    cfg = dict(AMG, pred_iou_thresh=-5.0, score_thresh_offset=(-10.0, -10.0, 0.0))
    sam = FMASegmentAnything('tiny', amg_cfg=cfg, device='cpu')
    out = sam.generate(image)
    assert len(out['masks']) and set(out['levels'].tolist()) == {2}
    full = FMASegmentAnything(
        'tiny',
        amg_cfg=dict(AMG, rock_sand_water_thresh=0.3, rock_sand_water_chunk_size=2),
        device='cpu')
    full.sam.load_state_dict(sam.sam.state_dict())
    plain = FMASegmentAnything('tiny', amg_cfg=AMG, device='cpu')
    plain.sam.load_state_dict(sam.sam.state_dict())
    raw, filt = plain.generate(image), full.generate(image)
    keep = rock_sand_water_filter(
        torch.from_numpy(raw['masks']), torch.from_numpy(raw['levels'].astype(np.int64)), 0.3)
    assert np.array_equal(filt['masks'], raw['masks'][keep.numpy()])
    assert np.array_equal(filt['levels'], raw['levels'][keep.numpy()])
