"""CARB: the region-balancing formulas (numbers by hand) and CARBTerm on a tiny CARBHead."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.foundation import TINY_CLIP_CFG
from mmwsss.models.heads.carb_head import clip_pseudo_mask, self_pseudo_mask
from mmwsss.models.losses.carb_loss import (carb_balance_coefficient, carb_patch_box,
                                            carb_patch_region_labels, carb_patch_scale,
                                            carb_region_labels, carb_total_loss, masked_ce)
from mmwsss.registry import MODELS
from mmwsss.structures import BranchOutput, TrainContext


def test_masked_ce_by_hand():
    # pixel 0: logits (0, ln 3) -> p(class 0) = 1/4; pixel 2: (0, 0) -> p(class 1) = 1/2;
    # pixel 1 is ignored whatever its logits
    logits = torch.tensor([[[[0.0, 7.0, 0.0]], [[math.log(3), -5.0, 0.0]]]])
    label = torch.tensor([[[0, 255, 1]]])
    assert masked_ce(logits, label).item() == pytest.approx(1.5 * math.log(2), abs=1e-6)
    empty = torch.full((1, 1, 3), 255)
    zero = masked_ce(logits.requires_grad_(), empty)
    assert zero.item() == 0 and zero.requires_grad
    assert math.isnan(masked_ce(logits, empty, empty='nan').item())  # the official value


def test_region_labels_by_hand():
    clip = torch.tensor([[[0, 1], [255, 2]]])
    own = torch.tensor([[[0, 2], [1, 2]]])
    label_and, label_vit = carb_region_labels(clip, own)
    assert label_and.tolist() == [[[0, 255], [255, 2]]]
    assert label_vit.tolist() == [[[255, 1], [255, 255]]]


def test_patch_dif_equals_the_official_two_step_write():
    g = torch.Generator().manual_seed(3)
    patch = torch.randint(0, 4, (2, 5, 7), generator=g)
    patch[torch.rand(2, 5, 7, generator=g) < 0.3] = 255
    own = torch.randint(0, 4, (2, 5, 7), generator=g)
    # official: partial_and[partial_and != self] = 255; partial_dif[partial_and != 255] = 255
    off_and = patch.clone()
    off_and[off_and != own] = 255
    off_dif = patch.clone()
    off_dif[off_and != 255] = 255
    part_and, part_dif = carb_patch_region_labels(patch, own)
    assert torch.equal(part_and, off_and) and torch.equal(part_dif, off_dif)
    assert (part_dif == 255).sum() < patch.numel()  # not trivially empty


def test_balance_coefficient_and_total():
    c = carb_balance_coefficient(
        torch.tensor([1., 2., 0, 0, 0]), torch.tensor([4., 4., 0, 0, 0]), 2.0)
    assert c.item() == pytest.approx(2 * 0.6 / 1.6)
    assert carb_balance_coefficient(torch.ones(5), torch.zeros(5), 0.5).item() == 0.5
    total = carb_total_loss(
        torch.tensor(1.), torch.tensor(2.), torch.tensor(3.), torch.tensor(4.), torch.tensor(0.5))
    assert total.item() == 1 + 1 + 3 + 2


def test_clip_pseudo_mask_label_masking_quirk():
    # pixel a: present classes 0, 1 score 0.2, -0.1; pixel b: both present ones negative
    scores = torch.tensor([[[[0.2, -0.3]], [[-0.1, -0.2]], [[0.5, 0.1]]]])
    labels = torch.tensor([[1., 1., 0.]])
    # official product: absent class 2 scores 0 and wins at b
    assert clip_pseudo_mask(scores, labels, (1, 2)).tolist() == [[[0, 2]]]
    assert clip_pseudo_mask(scores, labels, (1, 2), 'restrict').tolist() == [[[0, 1]]]


def test_clip_pseudo_mask_upsamples_scores_before_argmax():
    # 2 -> 3 columns, align_corners=False: samples at x = 0, 0.5, 1 of the 2-column map
    scores = torch.tensor([[[[1.0, 0.0]], [[0.6, 0.6]]]])
    out = clip_pseudo_mask(scores, torch.ones(1, 2), (1, 3))
    assert out.tolist() == [[[0, 1, 1]]]  # nearest upsampling of the argmax gives 0, 0, 1


def test_self_pseudo_mask():
    logits = torch.tensor([[[[-1.0, 2.0]], [[-2.0, 1.0]], [[5.0, 9.0]]]])
    labels = torch.tensor([[1., 1., 0.]])
    assert self_pseudo_mask(logits, labels).tolist() == [[[2, 0]]]  # 0 beats -1 and -2
    assert self_pseudo_mask(logits, labels, 'restrict').tolist() == [[[0, 0]]]


def test_patch_box_and_scale():
    torch.manual_seed(0)
    expect_h = int(torch.randint(0, 10 - 4, ()))
    expect_w = int(torch.randint(0, 20 - 5, ()))
    torch.manual_seed(0)
    assert carb_patch_box(10, 20, (4, 5)) == (expect_h, expect_w)
    assert carb_patch_box(10, 20, (10, 20)) == (0, 0)  # no draw when the patch spans a side
    with pytest.raises(ValueError, match='larger than the crop'):
        carb_patch_box(10, 20, (11, 5))
    torch.manual_seed(1)
    u = float(torch.rand(()))
    torch.manual_seed(1)
    assert carb_patch_scale(1.0, 1.0) == pytest.approx(u + 1)


# ---------------------------------------------------------------------------- the term
def _head(num_classes=3, **kw):
    torch.manual_seed(0)
    cfg = dict(
        type='CARBHead',
        in_channels=8,
        channels=32,
        num_classes=num_classes,
        class_names=['road', 'car', 'sky', 'tree'][:num_classes],
        templates=['a photo of a {}.', 'there is a {} in the scene.'],
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        dilations=(1, 2),
        norm_cfg=None)
    cfg.update(kw)
    return MODELS.build(cfg)


def _ctx(head, it, size=(48, 80), labels=None, valid=None):
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, *size)
    feats = torch.randn(2, 8, size[0] // 8, size[1] // 8)
    seg = head([feats])
    labels = torch.tensor([[1., 0., 1.], [1., 1., 1.]]) if labels is None else labels
    ctx = TrainContext(
        inputs=inputs, img=None, img_labels=labels, data_samples=[], iter=it, valid_mask=valid)
    ctx.branches['seg'] = BranchOutput(feats=None, seg_logits=seg)
    ctx.extras['decode_heads'] = {'seg': head}
    source = MODELS.build(dict(type='CARBCLIPLabelSource', branch='seg'))
    ctx.pseudo['clip'] = source(ctx)
    return ctx


def _term(**kw):
    cfg = dict(type='CARBTerm', name='carb', patch_size=(48, 80), resize_rate=0.0, warmup_iter=3)
    cfg.update(kw)
    return MODELS.build(cfg)


def test_warmup_is_plain_ce_on_crop_and_patch():
    head = _head()
    ctx = _ctx(head, it=2)  # counter 3 <= warmup 3
    term = _term()
    out = term(ctx)
    seg = F.interpolate(ctx.branches['seg'].seg_logits, size=(48, 80), mode='bilinear')
    expect = F.cross_entropy(seg, ctx.pseudo['clip'], ignore_index=255)
    assert set(out) == {'loss_full', 'loss_patch'}
    assert out['loss_full'].item() == pytest.approx(expect.item(), rel=1e-6)
    # the patch spans the crop and m = 1: its CLIP mask is the crop's
    assert out['loss_patch'].item() == pytest.approx(expect.item(), rel=1e-6)
    assert out['loss_full'].requires_grad
    assert term.vit_losses.abs().sum() == 0  # queues untouched in the warm-up


def test_carb_phase_balances_and_fills_the_queue():
    head = _head()
    term = _term()
    ctx = _ctx(head, it=3)  # counter 4 > 3
    out = term(ctx)
    seg = F.interpolate(ctx.branches['seg'].seg_logits, size=(48, 80), mode='bilinear')
    own = self_pseudo_mask(seg, ctx.img_labels)
    label_and, label_vit = carb_region_labels(ctx.pseudo['clip'], own)
    l_and = F.cross_entropy(seg, label_and, ignore_index=255)
    l_vit = F.cross_entropy(seg, label_vit, ignore_index=255)
    assert (label_and != 255).any() and (label_vit != 255).any()
    # slot 4 % 5 written; the other slots are still 0: c = l_and / l_vit
    assert term.and_losses[4].item() == pytest.approx(l_and.item(), rel=1e-6)
    assert term.and_losses[:4].abs().sum() == 0
    c = l_and / l_vit
    assert out['coeff'].item() == pytest.approx(c.item(), rel=1e-5)
    assert out['loss_full'].item() == pytest.approx((l_and + c * l_vit).item(), rel=1e-5)
    assert out['loss_patch'].item() == pytest.approx(out['loss_full'].item(), rel=1e-5)
    assert 'loss' not in ''.join(k for k in out if not k.startswith('loss'))  # logs only
    # next step writes slot 0 and the ratio is over the queue means
    ctx2 = _ctx(head, it=4)
    out2 = term(ctx2)
    q_and, q_vit = term.and_losses.clone(), term.vit_losses.clone()
    assert q_and[0] > 0 and q_and[4] > 0
    assert out2['coeff'].item() == pytest.approx((q_and.mean() / q_vit.mean()).item(), rel=1e-5)


def test_fixed_coefficient():
    head = _head()
    term = _term(adaptive=False, coeff=0.03)
    out = term(_ctx(head, it=10))
    assert out['coeff'].item() == pytest.approx(0.03)
    assert term.and_losses.abs().sum() == 0


def test_patch_is_cut_resized_and_labelled_at_the_patch_size():
    head = _head()
    ctx = _ctx(head, it=0)
    term = _term(patch_size=(32, 40), resize_rate=1.0, resize_offset=1.0)
    torch.manual_seed(5)
    hpos, wpos = carb_patch_box(48, 80, (32, 40))
    m = carb_patch_scale(1.0, 1.0)
    img = ctx.inputs[:, :, hpos:hpos + 32, wpos:wpos + 40]
    img = F.interpolate(img, size=(int(32 * m), int(40 * m)), mode='bilinear')
    patch_label = head.clip_mask(img, (32, 40), ctx.img_labels)
    seg = F.interpolate(ctx.branches['seg'].seg_logits, size=(48, 80), mode='bilinear')
    expect = F.cross_entropy(seg[:, :, hpos:hpos + 32, wpos:wpos + 40], patch_label)
    torch.manual_seed(5)
    out = term(ctx)
    assert out['loss_patch'].item() == pytest.approx(expect.item(), rel=1e-6)


def test_label_source_ignores_padding_and_needs_a_carb_head():
    head = _head()
    valid = torch.ones(2, 48, 80, dtype=torch.bool)
    valid[1, :, 70:] = False
    ctx = _ctx(head, it=0, valid=valid)
    label = ctx.pseudo['clip']
    assert label.shape == (2, 48, 80) and label.dtype == torch.long
    assert (label[1, :, 70:] == 255).all() and (label[0] != 255).all()
    # only present classes (class 1 absent in image 0) -- cosines of a random CLIP are
    # not all positive, so check against the formula instead of the label set
    expect = head.clip_mask(ctx.inputs, (48, 80), ctx.img_labels)
    assert torch.equal(label[0], expect[0])
    ctx.extras['decode_heads'] = {'seg': torch.nn.Identity()}
    with pytest.raises(KeyError, match='no CARBHead'):
        MODELS.build(dict(type='CARBCLIPLabelSource'))(ctx)
    with pytest.raises(KeyError, match='no CARBHead'):
        _term()(ctx)
