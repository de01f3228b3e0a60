"""CLIP-ES building blocks checked against numbers worked out by hand."""
import torch

from mmwsss.models.foundation.clip_es_ops import (caa_refine, cam_box_mask, grad_cam, minmax_scale,
                                                  sinkhorn_affinity)


def test_minmax_scale():
    x = torch.tensor([[[1., 3.], [5., 2.]]])
    out = minmax_scale(x, eps=0.)
    assert torch.allclose(out, torch.tensor([[[0., 0.5], [1., 0.25]]]))
    # constant map -> zeros, not NaN
    assert torch.equal(minmax_scale(torch.full((1, 2, 2), 3.)), torch.zeros(1, 2, 2))


def test_grad_cam():
    act = torch.tensor([[1., 2.], [0., 1.], [3., -1.], [2., 2.]])  # (N=4, D=2)
    grads = torch.tensor([[[1., 0.], [1., 2.], [1., 0.], [1., 2.]]])  # mean -> (1, 1)
    cam = grad_cam(act, grads, (2, 2))
    # weights (1, 1): sums 3, 1, 2, 4
    assert torch.equal(cam, torch.tensor([[[3., 1.], [2., 4.]]]))
    neg = grad_cam(act, -grads, (2, 2))
    assert torch.equal(neg, torch.zeros(1, 2, 2))  # ReLU


def test_cam_box_mask_quirk():
    cam = torch.zeros(1, 5, 6)
    cam[0, 1:3, 1:4] = 1.0  # blob rows 1-2, cols 1-3 -> rect x=1, y=1, w=3, h=2
    cam[0, 4, 5] = 0.3  # below 0.4 * max: no box
    mask = cam_box_mask(cam, 0.4)
    exp = torch.zeros(1, 5, 6)
    exp[0, 1:3, 1:4] = 1
    assert torch.equal(mask, exp)
    # a blob touching the last row/column: its box is clipped to H-1 / W-1 and the
    # slice [y0:y1] excludes that row (official behaviour)
    cam2 = torch.zeros(1, 4, 4)
    cam2[0, 2:, 2:] = 1.0
    mask2 = cam_box_mask(cam2, 0.4)
    exp2 = torch.zeros(1, 4, 4)
    exp2[0, 2:3, 2:3] = 1
    assert torch.equal(mask2, exp2)
    # strict threshold on the uint8 map: 0.5 -> 127, not > int(0.5 * 255) = 127,
    # so only the first pixel forms the box (x0=0, x1=1)
    cam3 = torch.zeros(1, 3, 3)
    cam3[0, 0, :2] = torch.tensor([1.0, 0.5])
    exp3 = torch.zeros(1, 3, 3)
    exp3[0, 0, 0] = 1
    assert torch.equal(cam_box_mask(cam3, 0.5), exp3)
    # no pixel above the threshold (all-zero map) -> empty mask
    assert torch.equal(cam_box_mask(torch.zeros(1, 3, 3), 0.4), torch.zeros(1, 3, 3))


def test_sinkhorn_affinity():
    eye = torch.eye(3)
    assert torch.allclose(sinkhorn_affinity(eye), eye)
    attn = torch.tensor([[0.6, 0.4], [0.2, 0.8]])
    # one round: col-normalise [[.75, 1/3], [.25, 2/3]], row-normalise ->
    # [[9/13, 4/13], [3/11, 8/11]]
    t1 = sinkhorn_affinity(attn, n_iters=1, n_power=0)
    a = torch.tensor([[9 / 13, 4 / 13], [3 / 11, 8 / 11]])
    assert torch.allclose(t1, (a + a.t()) / 2, atol=1e-6)
    t = sinkhorn_affinity(attn)
    assert torch.allclose(t, t.t(), atol=1e-6)
    sym = sinkhorn_affinity(attn, n_power=0)
    assert torch.allclose(t, sym @ sym, atol=1e-6)


def test_caa_refine_masks_columns():
    trans = torch.tensor([[0.5, 0.5, 0., 0.], [0.5, 0.5, 0., 0.], [0., 0., 1., 0.],
                          [0., 0., 0., 1.]])
    cam = torch.tensor([[[1., 0.], [0.5, 1.]]])
    box = torch.tensor([[[1., 1.], [0., 1.]]])
    out = caa_refine(cam, trans, box)
    ref = (trans * box.flatten(1)) @ cam.flatten()
    assert torch.allclose(out.flatten(), ref)
    assert torch.allclose(out, torch.tensor([[[0.5, 0.5], [0., 1.]]]))
