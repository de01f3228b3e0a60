"""POT's tensor functions (POT/network/resnet50_POT.py) on hand-computed cases."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.heads.pot_head import (POTHead, kmeans_centres, pot_class_maps,
                                          pot_consistency_loss, pot_fuse, pot_merge_scales,
                                          pot_seeds, transport_plans)


def test_transport_plan_2x2_closed_form():
    # pixels (1, 0) and (0, 1), centres (1, 0) and (0, 1): cost [[0, 1], [1, 0]];
    # uniform marginals 1/2: T = [[1, e], [e, 1]] / (2 (1 + e)), e = exp(-1 / reg)
    feat = torch.tensor([[1., 0.], [0., 1.]]).t().reshape(1, 2, 1, 2)
    centres = torch.tensor([[1., 0.], [0., 1.]]).view(1, 1, 2, 2)
    for reg in (1.0, 0.5):
        e = math.exp(-1 / reg)
        plan = transport_plans(feat, centres, reg=reg, num_iter=1000)
        expected = torch.tensor([[1, e], [e, 1]]) / (2 * (1 + e))
        # (the official + 1e-5 in the L2 normalisation makes the cost 2e-5 instead of 0)
        assert torch.allclose(plan[0, 0], expected, atol=1e-4)
        assert torch.allclose(plan[0, 0].sum(1), torch.full((2, ), 0.5), atol=1e-6)


def test_released_layout_mixes_classes():
    torch.manual_seed(0)
    feat = torch.randn(1, 4, 2, 3)
    centres = torch.randn(1, 2, 2, 4)  # 2 classes x 2 clusters
    rel = transport_plans(feat, centres, reg=0.5, layout='released', num_iter=500)
    # sim.view(M, N, n_cls): "class" 0 gets the class-major columns 0 and 2 = (c0k0, c1k0)
    mixed = torch.stack([centres[0, 0, 0], centres[0, 1, 0]]).view(1, 1, 2, 4)
    ref = transport_plans(feat, mixed, reg=0.5, num_iter=500)
    assert torch.allclose(rel[0, 0], ref[0, 0], atol=1e-6)
    good = transport_plans(feat, centres, reg=0.5, num_iter=500)
    assert not torch.allclose(good[0, 0], rel[0, 0], atol=1e-4)
    with pytest.raises(ValueError, match='layout'):
        transport_plans(feat, centres, layout='cluster_major')


def test_class_maps_mean_uniform_plan_and_max_norm():
    feat = torch.tensor([[1., 0., 1.], [0., 1., 1.]]).view(1, 2, 1, 3)
    centres = torch.tensor([[[1., 0.], [0., 1.]]]).view(1, 1, 2, 2)
    present = torch.ones(1, 1, dtype=torch.bool)
    valid = torch.ones(1, 1, 1, 3)
    # cos with (1, 0): [1, 0, 1/sqrt2]; with (0, 1): [0, 1, 1/sqrt2]; mean [.5, .5, .7071]
    mean = pot_class_maps(feat, centres, present, valid)
    r = 1 / math.sqrt(2)
    assert torch.allclose(mean.flatten(), torch.tensor([.5, .5, r]) / (r + 1e-5), atol=1e-5)
    uniform = torch.full((1, 1, 3, 2), 1 / 6)  # 1 / (M N)
    assert torch.allclose(pot_class_maps(feat, centres, present, valid, uniform), mean)
    # a plan sending pixel 0 to cluster 0 only: M * T = 1 there -> cos 1
    plan = uniform.clone()
    plan[0, 0, 0] = torch.tensor([1 / 3, 0.])
    out = pot_class_maps(feat, centres, present, valid, plan)
    # pixel 0 is now the max (1), pixels 1 / 2 keep the mean
    assert torch.allclose(out.flatten(), torch.tensor([1., .5, r]) / (1 + 1e-5), atol=1e-5)
    # skipped class -> 0
    assert pot_class_maps(feat, centres, ~present, valid).abs().sum() == 0


def test_seeds_and_kmeans_centres_seeded():
    norm_cam = torch.tensor([[0.9, 0.1, 0.2, 0.8], [0.1, 0.9, 0.8, 0.2]]).view(1, 2, 1, 4)
    seeds = pot_seeds(norm_cam, torch.ones(1, 2, 1, 1))
    assert seeds[0, 1].flatten().tolist() == [0, 1, 1, 0]
    feat = torch.tensor([[1., 5., 0., 2.], [0., 0., 3., 2.]]).view(1, 2, 1, 4)
    centres, present = kmeans_centres(feat, seeds, 2, seed=3)
    assert present.tolist() == [[True, True]]
    # two seed pixels per class -> one per cluster; the centres are the raw features
    got = {tuple(c.tolist()) for c in centres[0, 1]}
    assert got == {(5., 0.), (0., 3.)}
    again, _ = kmeans_centres(feat, seeds, 2, seed=3)
    assert torch.equal(again, centres)
    # fewer seed pixels than clusters: skipped
    one = seeds.clone()
    one[0, 1, 0, 2] = 0
    _, present = kmeans_centres(feat, one, 2)
    assert present.tolist() == [[True, False]]


def test_fuse_training_by_hand():
    # 1 x 3 grid, bg + 2 fg; values chosen so that no argmax is a near tie
    cls = torch.tensor([[0., 0., 0.], [0.8, 0.2, 0.1], [0.1, 0.6, 0.3]]).view(1, 3, 1, 3)
    fg = torch.tensor([[0.9, 0.1, 0.2], [0.2, 0.7, 0.1]])
    clip = torch.cat([1 - fg.max(0, keepdim=True)[0], fg]).view(1, 3, 1, 3)
    valid = torch.ones(1, 3, 1, 1)
    cam_class, added = pot_fuse(cls, clip, valid, add_weight=0.2)
    bg = [0.1, 0.3, 0.8]
    # cam_class fg = relu(fg - 0.5 bg); bg = 1 - max
    c1 = [max(0, a - 0.5 * b) for a, b in zip([0.8, 0.2, 0.1], bg)]  # .75, .05, 0
    c2 = [max(0, a - 0.5 * b) for a, b in zip([0.1, 0.6, 0.3], bg)]  # .05, .45, 0
    cb = [1 - max(a, b) for a, b in zip(c1, c2)]  # .25, .55, 1
    assert torch.allclose(cam_class.flatten(), torch.tensor(cb + c1 + c2), atol=1e-6)
    # CLIP: fg - 0.15 bg, new bg, sharpen 1.2 x - 0.2 sum, max-norm, row-mean zeroing
    f1 = [max(0, a - 0.15 * b) for a, b in zip([0.9, 0.1, 0.2], bg)]
    f2 = [max(0, a - 0.15 * b) for a, b in zip([0.2, 0.7, 0.1], bg)]
    b2 = [1 - max(a, b) for a, b in zip(f1, f2)]
    rows = [b2, f1, f2]
    sums = [sum(r[i] for r in rows) for i in range(3)]
    sharp = [[max(0, 1.2 * r[i] - 0.2 * sums[i]) for i in range(3)] for r in rows]
    normed = [[v / (max(r) + 1e-5) for v in r] for r in sharp]
    zeroed = [[0 if v < 0.5 * sum(r) / 3 else v for v in r] for r in normed]
    arg_clip = [max(range(3), key=lambda k: zeroed[k][i]) for i in range(3)]
    arg_cls = [max(range(3), key=lambda k: [cb, c1, c2][k][i]) for i in range(3)]
    # they agree at pixels 0 and 2 (added), not at 1 (CLIP kept)
    assert arg_clip == [1, 2, 0] and arg_cls == [1, 0, 0]
    exp = [[min(1.0, zeroed[k][i] + (0.2 * [cb, c1, c2][k][i] if i != 1 else 0)) for i in range(3)]
           for k in range(3)]
    assert torch.allclose(added.flatten(), torch.tensor(sum(exp, [])), atol=1e-5)


def test_fuse_inference_skips_training_steps():
    cls = torch.tensor([[0., 0.], [0.8, 0.1], [0.1, 0.6]]).view(1, 3, 1, 2)
    clip = torch.tensor([[0.1, 0.3], [0.9, 0.1], [0.2, 0.7]]).view(1, 3, 1, 2)
    _, a = pot_fuse(cls, clip, None, 0.3, clip_bg_weight=None, row_mean_ratio=None)
    _, b = pot_fuse(cls, clip, None, 0.2, clip_bg_weight=None, row_mean_ratio=None)
    # where they agree, the difference is 0.1 x cam_class (below the clamp)
    assert not torch.allclose(a, b)


def test_consistency_loss_and_merge():
    c = torch.tensor([0.5, 1.0]).view(1, 1, 1, 2)
    d = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2)
    v = torch.ones(1, 1, 1, 1)
    expected = (abs(0.5 / 1.00001 - 1 / 1.00001) * 2) / 2
    assert pot_consistency_loss(c, d, v).item() == pytest.approx(expected, abs=1e-6)
    # merge: IS_CAM = cam_add at scale 1 only; IS_CAM1 = cam_class summed, then [bg+.4, 2 fg]
    s1 = torch.tensor([0.2, 0.4, 1.0, 0.5]).view(1, 4, 1, 1)  # K = 2: [cls bg, cls fg, add..]
    s2 = torch.tensor([0.2, 0.0, 0.0, 9.0]).view(1, 4, 1, 1)
    out = pot_merge_scales([s1, s2], [1.0, 0.5])
    is_cam = torch.tensor([1.0, 0.5]) / torch.tensor([1.00001, 0.50001])
    is1 = torch.tensor([0.4 / 0.40001, 0.4 / 0.40001])
    exp = (is_cam + is1 + torch.tensor([0.4, is1[1]])) / 3
    assert torch.allclose(out.flatten(), exp, atol=1e-5)
    with pytest.raises(ValueError, match='1.0'):
        pot_merge_scales([s1], [0.5])


def test_head_sides_read_rgb_and_gradients():
    init_default_scope('mmwsss')
    head = POTHead(
        in_channels=6,
        num_classes=2,
        side_in_channels=(2, 4, 6),
        side_channels=(3, 3, 4),
        side_indices=(0, 1, 2),
        ref_side=1,
        in_index=2,
        use_plan=True)
    head.init_weights()
    assert head.sides[0].in_channels == 5
    x1 = torch.randn(1, 2, 8, 8, requires_grad=True)
    x2 = torch.randn(1, 4, 4, 4, requires_grad=True)
    x4 = torch.randn(1, 6, 4, 4, requires_grad=True)
    img = torch.randn(1, 3, 16, 16)
    feats = (x1, x2, x4, img)
    logits, cam = head(feats)
    assert logits.shape == (1, 2)
    hie = head.hie_fea(feats)
    assert hie.shape == (1, 10, 4, 4)
    from mmwsss.models.heads.sipe_head import sipe_norm_cam
    valid = torch.ones(1, 3, 4, 4)
    maps = head.class_maps(sipe_norm_cam(cam, (4, 4), valid), valid, hie)
    assert maps.shape == (1, 3, 4, 4) and maps[0, 0].abs().sum() == 0
    maps.sum().backward()
    assert x1.grad is not None  # not detached (POT), unlike SIPE
