"""SIPE's tensor functions on hand-computed cases (network/resnet50_SIPE.py)."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.heads.sipe_head import (SIPEHead, get_prototype, get_seed, hierarchical_feature,
                                           reactivate, sipe_norm_cam)


def _two_group_case():
    """A 3x3 grid whose column 0 (group A) has feature (1, 0), the rest (group B) (0, 1):
    R_ij = 1 within a group, 0 across. fg CAM: 1 at (0,0), 0.5 at (1,0) and at (2,2)."""
    fg = torch.tensor([[1., 0., 0.], [0.5, 0., 0.], [0., 0., 0.5]])
    norm_cam = torch.stack([1 - fg, fg])[None]  # (1, 2, 3, 3), bg = 1 - fg
    feat = torch.zeros(1, 2, 3, 3)
    feat[0, 0, :, 0] = 1.
    feat[0, 1, :, 1:] = 1.
    return norm_cam, feat


def test_get_seed_two_classes_by_hand():
    norm_cam, feat = _two_group_case()
    valid = torch.ones(1, 2, 1, 1)
    seeds, probs = get_seed(norm_cam, valid, feat)
    # group A (|A| = 3, sum_A fg = 1.5, sum_A bg = 1.5; sum fg = 2, sum bg = 7):
    #   IoU_fg = 1.5 / (3 + 2 - 1.5) = 0.4286; IoU_bg = 0.5 * 1.5 / (3 + 7 - 1.5) = 0.0882 -> fg
    # group B (|B| = 6, sum_B fg = 0.5, sum_B bg = 5.5):
    #   IoU_fg = 0.5 / (6 + 2 - 0.5) = 0.0667; IoU_bg = 0.5 * 5.5 / 7.5 = 0.3667 -> bg
    # (2, 0) has fg 0 but joins its structure; (2, 2) has fg 0.5 and does not
    expected_fg = torch.tensor([[1., 0., 0.], [1., 0., 0.], [1., 0., 0.]])
    assert torch.equal(seeds[0, 1], expected_fg)
    assert torch.equal(seeds[0, 0], 1 - expected_fg)
    a = torch.tensor([0.5 * 1.5 / 8.5, 1.5 / 3.5]).softmax(0)
    assert torch.allclose(probs[0, :, 0, 0], a, atol=1e-4)
    b = torch.tensor([0.5 * 5.5 / 7.5, 0.5 / 7.5]).softmax(0)
    assert torch.allclose(probs[0, :, 1, 1], b, atol=1e-4)


def test_get_seed_bg_scale_and_valid_mask():
    norm_cam, feat = _two_group_case()
    # bg x 0.05 in group B: 0.05 * 0.7333 = 0.0367 < 0.0667 -> every pixel fg
    seeds, _ = get_seed(norm_cam, torch.ones(1, 2, 1, 1), feat, bg_scale=0.05)
    assert torch.equal(seeds[0, 1], torch.ones(3, 3))
    # bg x 1 keeps the partition of bg x 0.5 here (group A: 0.176 < 0.429)
    seeds1, _ = get_seed(norm_cam, torch.ones(1, 2, 1, 1), feat, bg_scale=1.0)
    assert torch.equal(seeds1[0, 1, :, 0], torch.ones(3))
    # an absent class (valid 0) has no seed; the bg seeds stay
    seeds0, _ = get_seed(norm_cam, torch.tensor([1., 0.]).view(1, 2, 1, 1), feat)
    assert seeds0[0, 1].sum() == 0
    assert torch.equal(seeds0[0, 0], seeds1[0, 0])  # bg where the argmax is bg


def test_get_seed_grid_mismatch():
    with pytest.raises(ValueError, match='grid'):
        get_seed(torch.rand(1, 2, 3, 3), torch.ones(1, 2, 1, 1), torch.rand(1, 4, 3, 4))


def test_prototype_is_area_mean_and_reactivate():
    seeds = torch.zeros(1, 2, 2, 3)
    seeds[0, 1, 0, 0] = 1  # one fg seed pixel
    seeds[0, 0] = 1 - seeds[0, 1]
    feat = torch.arange(12, dtype=torch.float).view(1, 2, 2, 3)  # d0 = 0..5, d1 = 6..11
    protos = get_prototype(seeds, feat)
    # mean over ALL 6 pixels (not the seed area): fg = (0, 6) / 6; bg = (1+..+5, 7+..+11) / 6
    assert torch.allclose(protos[0, 1], torch.tensor([0., 1.]))
    assert torch.allclose(protos[0, 0], torch.tensor([15 / 6, 45 / 6]))
    cam = reactivate(protos, feat)
    # fg prototype direction (0, 1): cos = f1 / ||f||, relu keeps it
    f = feat[0].flatten(1)
    assert torch.allclose(cam[0, 1].flatten(), f[1] / f.norm(dim=0), atol=1e-6)
    # relu: a prototype opposite to every feature gives 0
    neg = reactivate(-protos, feat)
    assert torch.all(neg == 0)


def test_prototype_nearest_resize_of_seeds():
    seeds = torch.zeros(1, 1, 2, 2)
    seeds[0, 0, 0, 0] = 1
    feat = torch.ones(1, 3, 4, 4)
    # nearest x2: 4 of the 16 pixels are seeds -> 4 / 16
    assert torch.allclose(get_prototype(seeds, feat), torch.full((1, 1, 3), 0.25))


def test_norm_cam_bg_and_valid():
    cam = torch.tensor([[[[-1., 2.], [1., 0.]]]])  # (1, 1, 2, 2)
    out = sipe_norm_cam(cam)
    fg = torch.tensor([[0., 2.], [1., 0.]]) / (2 + 1e-5)
    assert torch.allclose(out[0, 1], fg)
    assert torch.allclose(out[0, 0], 1 - fg)
    valid = torch.tensor([1., 0.]).view(1, 2, 1, 1)
    assert torch.all(sipe_norm_cam(cam, valid=valid)[0, 1] == 0)
    # resize to a finer grid, align_corners=True keeps the corners
    big = sipe_norm_cam(cam, size=(3, 3))
    assert torch.allclose(big[0, 1, 0, 2], fg[0, 1])


def test_hierarchical_feature_norms_and_grid():
    s1 = torch.randn(2, 3, 8, 6)
    s3 = torch.randn(2, 5, 4, 3)
    hie = hierarchical_feature([s1, s3], ref_index=1)
    assert hie.shape == (2, 8, 4, 3)
    # the side on the reference grid is just L2-normalised (norm + 1e-5)
    n = s3 / (s3.norm(dim=1, keepdim=True) + 1e-5)
    assert torch.allclose(hie[:, 3:], n)
    assert torch.allclose(hie[:, 3:].norm(dim=1), torch.ones(2, 4, 3), atol=1e-4)


def _head():
    init_default_scope('mmwsss')
    return SIPEHead(
        in_channels=6,
        num_classes=3,
        side_in_channels=(2, 4, 6),
        side_channels=(3, 3, 4),
        ref_side=1)


def test_head_hie_detached_and_grad_paths():
    head = _head()
    head.init_weights()
    x1 = torch.randn(2, 2, 10, 9, requires_grad=True)
    x2 = torch.randn(2, 4, 5, 5, requires_grad=True)
    x4 = torch.randn(2, 6, 5, 5, requires_grad=True)
    feats = (x1, x2, x4)
    logits, cam = head(feats)
    assert logits.shape == (2, 3) and cam.shape == (2, 3, 5, 5)
    hie = head.hie_fea(feats)
    assert hie.shape == (2, 10, 5, 5)
    labels = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    from mmwsss.models.losses.gsc_loss import gsc_loss
    from mmwsss.models.losses.terms.sipe import sipe_valid_mask
    valid = sipe_valid_mask(labels, (5, 5))
    norm_cam, seeds, is_cam = head.is_cam(cam, hie, head.cls_feature(feats), valid)
    assert is_cam.shape == (2, 4, 5, 5)
    # absent classes: no seeds -> zero prototype -> zero IS-CAM
    assert is_cam[0, 2].abs().sum() == 0 and is_cam[1, 1].abs().sum() == 0
    gsc_loss(norm_cam, is_cam).backward()
    # the sides read detached stages: x1 / x2 get no gradient; x4 gets it via norm_cam only
    assert x1.grad is None and x2.grad is None
    assert x4.grad is not None
    assert head.sides[0].weight.grad is not None and head.conv_seg.weight.grad is not None


def test_label_cam_fn_fuses_flip_before_seeds():
    head = _head()
    head.init_weights()

    class Branch:

        def extract_feat(self, x):
            return (x[:, :2].repeat(1, 1, 1, 1), torch.cat([x, x[:, :1]], 1)[..., ::2, ::2],
                    torch.cat([x, x], 1)[..., ::2, ::2])

    torch.manual_seed(0)
    x = torch.randn(1, 3, 6, 8)
    fn = head.label_cam_fn(Branch(), torch.tensor([[1., 0., 1.]]))
    out = fn(x)
    assert out.shape == (1, 4, 3, 4)
    assert out[0, 2].abs().sum() == 0  # absent class
    # flip invariance: the fused image + flip pair is symmetric under flipping the input
    out_f = fn(x.flip(-1))
    assert torch.allclose(out_f.flip(-1), out, atol=1e-5)
