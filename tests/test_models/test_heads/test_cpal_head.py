"""CPAL's prototype rules on hand-computed cases (mmwsss/models/heads/cpal_head.py)."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.heads.cpal_head import (CPALHead, context_aware_prototypes, instance_prototypes,
                                           pa_cam, seed_cam, soft_neighbour_weights)
from mmwsss.models.heads.sipe_head import get_prototype, reactivate
from mmwsss.models.losses.terms.sipe import sipe_valid_mask


def test_seed_cam_blend():
    a = torch.tensor([0.2, 0.8]).view(1, 2, 1, 1)
    b = torch.tensor([0.6, 0.0]).view(1, 2, 1, 1)
    assert torch.equal(seed_cam(a), a)
    assert torch.equal(seed_cam(a, b, 0.0), a)
    # 0.75 * (0.2, 0.8) + 0.25 * (0.6, 0) = (0.3, 0.6)
    assert torch.allclose(seed_cam(a, b, 0.25).flatten(), torch.tensor([0.3, 0.6]))
    with pytest.raises(ValueError, match='shape'):
        seed_cam(a, torch.zeros(1, 3, 1, 1), 0.5)


def test_instance_prototypes_seed_mean_unit_and_present():
    # 1 x 3 grid, D = 2: features (3, 0), (0, 4), (1, 1)
    feat = torch.tensor([[3., 0., 1.], [0., 4., 1.]]).view(1, 2, 1, 3)
    seeds = torch.zeros(1, 3, 1, 3)
    seeds[0, 0, 0, 0] = 1  # bg: pixel 0
    seeds[0, 1, 0, 1:] = 1  # class 1: pixels 1, 2 -> mean (0.5, 2.5)
    anchors, present = instance_prototypes(seeds, feat)
    assert present.tolist() == [[True, True, False]]
    assert torch.allclose(anchors[0, 0], torch.tensor([1., 0.]))
    n = math.sqrt(0.25 + 6.25)
    assert torch.allclose(anchors[0, 1], torch.tensor([0.5 / n, 2.5 / n]), atol=1e-6)
    assert torch.equal(anchors[0, 2], torch.zeros(2))  # no seed -> zero row
    # the direction is SIPE's (area mean), only the scale differs
    sipe = get_prototype(seeds, feat)[0, 1]
    assert torch.allclose(anchors[0, 1], sipe / sipe.norm(), atol=1e-6)


def test_soft_neighbour_weights_topk_softmax_by_hand():
    sims = torch.tensor([[[0.9, 0.5, 0.1, -0.2], [0.3, 0.2, 0.1, 0.0]]])  # (1, 2, 4)
    valid = torch.tensor([[True, True, True, False], [False, False, False, False]])
    w = soft_neighbour_weights(sims, valid, topk=2, tau=0.5)
    # class 0: the top-2 valid are slots 0, 1: softmax(1.8, 1.0)
    e = torch.tensor([1.8, 1.0]).exp()
    assert torch.allclose(w[0, 0], torch.cat([e / e.sum(), torch.zeros(2)]), atol=1e-6)
    # class 1 has no written slot: all zero
    assert torch.equal(w[0, 1], torch.zeros(4))
    # topk=None: every valid slot, the invalid slot 3 (highest rank otherwise irrelevant) is 0
    w_all = soft_neighbour_weights(sims, valid, topk=None, tau=0.5)
    e3 = torch.tensor([1.8, 1.0, 0.2]).exp()
    assert torch.allclose(w_all[0, 0, :3], e3 / e3.sum(), atol=1e-6)
    assert w_all[0, 0, 3] == 0
    # an invalid slot with the highest similarity is never chosen
    sims2 = torch.tensor([[[0.1, 0.9]]])
    w2 = soft_neighbour_weights(sims2, torch.tensor([[True, False]]), topk=1, tau=0.1)
    assert torch.equal(w2[0, 0], torch.tensor([1., 0.]))


def test_context_aware_prototypes_by_hand():
    anchors = torch.tensor([[[1., 0.], [0., 1.], [0., 0.]]])  # (1, 3, 2): class 2 absent
    present = torch.tensor([[True, True, False]])
    bank = torch.zeros(3, 2, 2)
    bank[0, 0] = torch.tensor([0.6, 0.8])
    bank[0, 1] = torch.tensor([0., 2.])  # not unit: normalised to (0, 1)
    bank[2, 0] = torch.tensor([1., 0.])
    valid = torch.tensor([[True, True], [False, False], [True, False]])
    out = context_aware_prototypes(
        anchors, present, bank, valid, topk=1, tau=0.1, anchor_weight=0.5)
    # class 0: sims (0.6, 0) -> top-1 slot 0 (weight 1): 0.5 (1, 0) + 0.5 (0.6, 0.8) = (0.8, 0.4)
    assert torch.allclose(out[0, 0], torch.tensor([0.8, 0.4]) / math.sqrt(0.8), atol=1e-6)
    # class 1: empty bank -> its anchor
    assert torch.allclose(out[0, 1], torch.tensor([0., 1.]))
    # class 2: absent in the image -> zero although its bank has a slot
    assert torch.equal(out[0, 2], torch.zeros(2))
    # topk 2, tau 0.1: weights softmax(6, 0) on ((0.6, 0.8), (0, 1))
    out2 = context_aware_prototypes(
        anchors, present, bank, valid, topk=2, tau=0.1, anchor_weight=0.25)
    w = torch.tensor([6.0, 0.0]).softmax(0)
    ctx = w[0] * torch.tensor([0.6, 0.8]) + w[1] * torch.tensor([0., 1.])
    want = 0.25 * torch.tensor([1., 0.]) + 0.75 * ctx
    assert torch.allclose(out2[0, 0], want / want.norm(), atol=1e-6)
    # anchor_weight 1: the anchor itself (SIPE's image-specific prototype direction)
    out3 = context_aware_prototypes(anchors, present, bank, valid, anchor_weight=1.0)
    assert torch.allclose(out3[0, :2], anchors[0, :2])


def test_pa_cam_relu_cos():
    feat = torch.tensor([[1., -1.], [1., 1.]]).view(1, 2, 1, 2)  # pixels (1, 1), (-1, 1)
    protos = torch.tensor([[[1., 0.]]])
    out = pa_cam(protos, feat)
    assert torch.allclose(out.flatten(), torch.tensor([1 / math.sqrt(2), 0.]), atol=1e-6)


def _head(**kw):
    init_default_scope('mmwsss')
    head = CPALHead(
        in_channels=6,
        num_classes=3,
        side_in_channels=(2, 4, 6),
        side_channels=(3, 3, 4),
        ref_side=1,
        bank_slots=2,
        **kw)
    head.init_weights()
    return head


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 2, 10, 9, generator=g), torch.randn(2, 4, 5, 5, generator=g),
            torch.randn(2, 6, 5, 5, generator=g))


def test_head_without_context_is_sipe_is_cam():
    head = _head()
    feats = _feats()
    _, cam = head(feats)
    hie = head.hie_fea(feats)
    labels = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    valid = sipe_valid_mask(labels, (5, 5))
    norm_cam, seeds, is_cam = head.is_cam(cam, hie, head.cls_feature(feats), valid)
    maps = head.cpal_maps(norm_cam, hie, head.cls_feature(feats), valid)
    assert torch.equal(maps['seeds'], seeds)
    # an empty bank: every prototype is its anchor, PA-CAM == SIPE's IS-CAM
    assert torch.allclose(maps['pa_cam'], reactivate(get_prototype(seeds, hie), hie), atol=1e-5)
    assert torch.allclose(maps['pa_cam'], is_cam, atol=1e-5)


def test_bank_writes_present_classes_fifo_and_bg_switch():
    head = _head()
    anchors = torch.eye(4, 10)[None].repeat(2, 1, 1)  # (2, 4, 10)
    present = torch.tensor([[True, True, False, False], [True, False, False, True]])
    head.update_bank(anchors, present)
    assert head.bank.count.sum(1).tolist() == [2, 1, 0, 1]  # bg written twice (FIFO slots)
    assert head.bank.ptr.tolist() == [0, 1, 0, 1]
    nobg = _head(bank_bg=False)
    nobg.update_bank(anchors, present)
    assert nobg.bank.count[0].sum() == 0
    # with bank_bg=False the bg prototype stays the anchor even with a filled bg bank
    nobg.bank.protos[0, 0] = torch.ones(10)
    nobg.bank.count[0, 0] = 1
    a = torch.zeros(1, 4, 10)
    a[0, 0, 0] = 1
    hie = torch.randn(1, 10, 3, 3)
    seeds = torch.zeros(1, 4, 3, 3)
    seeds[0, 0] = 1
    feat = torch.zeros(1, 10, 3, 3)
    feat[0, 0] = 1  # every pixel (1, 0, ...)
    norm_cam = torch.zeros(1, 4, 3, 3)
    norm_cam[0, 0] = 1
    out = nobg.cpal_maps(norm_cam, feat, feat, torch.tensor([1., 0., 0., 0.]).view(1, 4, 1, 1))
    assert torch.allclose(out['protos'][0, 0], a[0, 0])
    del hie, seeds


def test_head_argument_checks():
    with pytest.raises(ValueError, match='anchor_weight'):
        _head(anchor_weight=1.5)
    with pytest.raises(ValueError, match='topk'):
        _head(topk=0)
    with pytest.raises(KeyError, match='ext_cam_dir'):
        _head().ext_cams([], (2, 2))


def test_label_cam_fn_shape_flip_and_bank_untouched():
    head = _head()
    head.bank.protos.normal_()
    head.bank.count.fill_(1)
    before = head.bank.protos.clone()

    class Branch:

        def extract_feat(self, x):
            return (x[:, :2], torch.cat([x, x[:, :1]],
                                        1)[..., ::2, ::2], torch.cat([x, x], 1)[..., ::2, ::2])

    torch.manual_seed(0)
    x = torch.randn(1, 3, 6, 8)
    fn = head.label_cam_fn(Branch(), torch.tensor([[1., 0., 1.]]))
    out = fn(x)
    assert out.shape == (1, 4, 3, 4)
    assert out[0, 2].abs().sum() == 0  # absent class
    assert torch.allclose(fn(x.flip(-1)).flip(-1), out, atol=1e-5)
    assert torch.equal(head.bank.protos, before)


def test_external_cams_read_masked_and_seed_the_prototypes(tmp_path):
    import numpy as np
    cams = np.zeros((2, 2, 2), np.float32)
    cams[0] = [[1.0, 0.5], [0.0, 0.0]]  # class index 0 (channel 1)
    cams[1] = [[0.0, 0.0], [0.2, 1.0]]  # class index 2 (channel 3)
    np.savez(tmp_path / 'img1.npz', keys=np.array([0, 2]), cams=cams)
    head = _head(ext_cam_dir=str(tmp_path), ext_cam_weight=1.0)
    samples = [dict(img_path='/data/JPEGImages/img1.jpg')]
    ext = head.ext_cams(samples, (2, 2))
    assert ext.shape == (1, 4, 2, 2)
    assert torch.allclose(ext[0, 1], torch.tensor([[1.0, 0.5], [0.0, 0.0]]))
    assert torch.equal(ext[0, 2], torch.zeros(2, 2))  # class without a map
    # bg = 1 - max fg: (0, 0.5), (0.8, 0)
    assert torch.allclose(ext[0, 0], torch.tensor([[0.0, 0.5], [0.8, 0.0]]))
    # the label mask drops class 2's map before the bg is formed
    masked = head.ext_cams(samples, (2, 2), torch.tensor([1., 0., 0.]).view(1, 3, 1, 1))
    assert torch.equal(masked[0, 3], torch.zeros(2, 2))
    assert torch.allclose(masked[0, 0], torch.tensor([[0.0, 0.5], [1.0, 1.0]]))
    # ext_cam_weight 1: the seeds are located on the external CAM, whatever norm_cam says
    from mmwsss.models.heads.sipe_head import get_seed
    feat = torch.randn(1, 10, 2, 2)
    valid = torch.ones(1, 4, 1, 1)
    out = head.cpal_maps(torch.rand(1, 4, 2, 2), feat, feat, valid, ext)
    want, _ = get_seed(ext, valid, feat, head.bg_scale)
    assert torch.equal(out['seeds'], want)
