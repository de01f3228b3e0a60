"""SEPL merge rule (hand-made masks and labels) and the SAM refiner with its cache."""
import numpy as np
import pytest
import torch

from mmwsss.models.refiners import RefineChain, final_label, sepl_merge


def t(rows):
    return torch.tensor(rows)


def test_merge_majority_rule_and_cam_fallback():
    label = t([[1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 2, 2], [1, 0, 0, 0, 2, 2], [0, 0, 0, 0, 0, 255]])
    m0 = torch.zeros(4, 6, dtype=torch.bool)
    m0[0:2, 0:4] = True  # 6 of its 8 pixels are class 1 -> class 1
    m1 = torch.zeros_like(m0)
    m1[3, 0:4] = True  # background only -> rejected
    m2 = torch.zeros_like(m0)
    m2[1:4, 4:6] = True  # 4 of 6 are class 2 -> class 2 (the 255 pixel too)
    masks = torch.stack([m0, m1, m2])
    out = sepl_merge(label, masks)
    assert torch.equal(
        out,
        t([
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 2, 2],
            [1, 0, 0, 0, 2, 2],  # (2, 0): no SAM mask -> CAM kept
            [0, 0, 0, 0, 2, 2]
        ]))
    out = sepl_merge(label, masks, keep_cam_label=False)
    assert out[2, 0] == 0


def test_merge_half_is_not_a_majority_and_cover_rule():
    label = t([[1, 1, 1, 1, 0, 0, 0, 0]])
    s = t([[0, 0, 1, 1, 1, 1, 0, 0]]).bool()  # 2|P&S| - |S| = 0, cover 2/4 -> reject
    assert torch.equal(sepl_merge(label, s[None]), t([[1, 1, 0, 0, 0, 0, 0, 0]]))
    label = t([[0, 0, 3, 3, 0, 0, 0, 0, 0, 0]])
    big = torch.ones(1, 1, 10, dtype=torch.bool)  # 2/10 inside, but covers all of P_3
    assert torch.equal(sepl_merge(label, big), torch.full((1, 10), 3))
    assert torch.equal(sepl_merge(label, big, cover_thr=1.01), torch.zeros(1, 10).long())


def test_claimed_masks_and_official_union_quirk():
    label = t([[1, 1, 1, 2, 0, 0]])
    a = t([[1, 1, 1, 1, 0, 0]]).bool()[None]  # 3/4 class 1 -> claimed by class 1
    # the paper's rule: P_2's pixel lies under a SAM mask, so SAM decides (class 1)
    assert torch.equal(sepl_merge(label, a), t([[1, 1, 1, 1, 0, 0]]))
    # official code: the "no mask" region ignores masks claimed by earlier classes,
    # so class 2 keeps its CAM pixel and overwrites
    assert torch.equal(sepl_merge(label, a, union='unclaimed'), t([[1, 1, 1, 2, 0, 0]]))


def test_later_class_overwrites_and_ignore_option():
    label = t([[1, 1, 2, 2, 255, 0]])
    m1 = t([[1, 1, 1, 0, 0, 0]]).bool()  # 2/3 class 1
    m2 = t([[0, 1, 1, 1, 0, 0]]).bool()  # 2/3 class 2 -> overwrites pixel 1 and 2
    out = sepl_merge(label, torch.stack([m1, m2]))
    assert torch.equal(out, t([[1, 2, 2, 2, 0, 0]]))  # 255 not carried over
    out = sepl_merge(label, torch.stack([m1, m2]), keep_ignore=True)
    assert torch.equal(out, t([[1, 2, 2, 2, 255, 0]]))
    empty = torch.zeros(0, 1, 6, dtype=torch.bool)
    assert torch.equal(sepl_merge(label, empty), t([[1, 1, 2, 2, 0, 0]]))
    with pytest.raises(ValueError, match='do not match'):
        sepl_merge(label, torch.zeros(1, 2, 6, dtype=torch.bool))


@pytest.fixture
def state():
    rng = np.random.default_rng(0)
    img = torch.from_numpy((rng.random((1, 3, 24, 40)) * 255).astype(np.uint8))
    cams = torch.zeros(1, 3, 24, 40)
    cams[0, 0, :, :20] = 0.9
    cams[0, 2, 12:, 20:] = 0.8
    labels = torch.tensor([[1., 0., 1.]])
    return dict(img=img, cams=cams, img_labels=labels, meta=[dict(img_path='x.jpg')])


def test_sam_refiner_cache(state, tmp_path):
    pytest.importorskip('segment_anything')
    torch.manual_seed(0)
    sam_cfg = dict(
        type='SegmentAnything',
        arch='tiny',
        device='cpu',
        amg_cfg=dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0))
    cfg = dict(type='SAMRefiner', sam=sam_cfg, cache_dir=str(tmp_path), bg_thr=0.5)
    chain = RefineChain([cfg], bg_thr=0.5)
    refiner = chain.refiners[0]
    out = chain(state)
    assert refiner.num_sam_runs == 1
    masks = torch.from_numpy(
        refiner.sam.generate(np.ascontiguousarray(state['img'][0].permute(1, 2,
                                                                          0).numpy()))['masks'])
    assert masks.shape[0] >= 1
    expected = sepl_merge(final_label(state, 0.5)[0], masks)
    assert torch.equal(out['label'][0], expected)
    assert not any(k.startswith('_sam') for k in chain.state_dict())
    # other CAMs, same image: SAM is not run again
    state2 = dict(state, cams=state['cams'].flip(-1))
    out2 = chain(state2)
    assert refiner.num_sam_runs == 1
    assert torch.equal(out2['label'][0], sepl_merge(final_label(state2, 0.5)[0], masks))
    # a fresh refiner on the same cache never builds SAM
    fresh = RefineChain([cfg], bg_thr=0.5)
    fresh(state2)
    assert fresh.refiners[0]._sam is None and fresh.refiners[0].num_sam_runs == 0
    # a label set by an earlier refiner is what gets merged
    with_label = dict(state, label=torch.zeros(1, 24, 40, dtype=torch.long))
    assert torch.equal(chain(with_label)['label'], torch.zeros(1, 24, 40).long())
