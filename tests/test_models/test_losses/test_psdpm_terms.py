"""PSDPM's losses, two-scale weights and replay slots on hand-computed numbers."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from mmwsss.models.losses.terms.psdpm import (PSDPMTerm, ReplaySlots, choose_slot_indices,
                                              psdpm_cls_loss, psdpm_l1_loss, write_slots)
from mmwsss.structures import BranchOutput, TrainContext


def test_l1_loss_by_hand():
    gt = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    cam22 = torch.tensor([0.5, 0.25]).view(1, 1, 1, 2)
    pcam = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    # |gt - cam22| = (0.5, 0.25); 0.05 |pcam - cam22| = (0.025, 0.0375); mean = 0.40625
    assert abs(psdpm_l1_loss(gt, cam22, pcam).item() - 0.40625) < 1e-7
    assert abs(psdpm_l1_loss(gt, cam22, pcam, proto_weight=1.0).item() - 1.0) < 1e-7


def test_cls_loss_is_the_mean_of_two_mlsm():
    y = torch.tensor([[1.0, 0.0]])
    s1 = torch.tensor([[0.0, 0.0]])
    s2 = torch.tensor([[2.0, -1.0]])
    m1 = math.log(2)
    m2 = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert abs(psdpm_cls_loss(s1, s2, y).item() - (m1 + m2) / 2) < 1e-6
    # the official (N, C, 1, 1) call gives the same value
    four = torch.nn.functional.multilabel_soft_margin_loss(s2[..., None, None], y[..., None, None])
    assert abs(four.item() - m2) < 1e-6


def test_slot_choice_and_write_order():
    g = torch.Generator().manual_seed(0)
    labels_bg = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    seen = set()
    for _ in range(50):
        idx = choose_slot_indices(labels_bg, g)
        assert idx[1] == 0  # only bg present
        seen.add(int(idx[0]))
    assert seen == {0, 2}  # bg included, the absent class 1 never
    slots = dict(a=torch.zeros(3, 2))
    write_slots(slots, torch.tensor([2, 0, 2]),
                dict(a=torch.tensor([[1., 1.], [2., 2.], [3., 3.]])))
    # batch order: the third image overwrites the first in slot 2
    assert slots['a'].tolist() == [[2., 2.], [0., 0.], [3., 3.]]
    with pytest.raises(ValueError):
        choose_slot_indices(torch.zeros(1, 3), g)


def test_replay_slots_start_state_and_write():
    rep = ReplaySlots(num_slots=3, seed=0)
    like = dict(
        img=torch.rand(2, 3, 4, 4),
        valid1=torch.ones(2, 3, 2, 2),
        labels=torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        gt1=torch.rand(2, 3, 2, 2),
        gt2=torch.rand(2, 3, 1, 1))
    st = rep.state(like)
    # the official: zero images / masks / maps, ALL-ONES labels (sltarget = torch.ones)
    assert torch.equal(st['img'], torch.zeros(3, 3, 4, 4))
    assert torch.equal(st['labels'], torch.ones(3, 2))
    assert torch.equal(st['valid1'], torch.zeros(3, 3, 2, 2))
    idx = rep.write(like, torch.cat([torch.ones(2, 1), like['labels']], 1))
    for i, s in enumerate(idx.tolist()):
        if s not in idx.tolist()[i + 1:]:
            assert torch.equal(rep.img[s], like['img'][i])
            assert torch.equal(rep.labels[s], like['labels'][i])
            assert torch.equal(rep.gt2[s], like['gt2'][i])
    assert 'img' not in rep.state_dict()  # not checkpointed (the official keeps them unsaved)
    with pytest.raises(ValueError, match='fixed input size'):
        rep.state(dict(like, img=torch.rand(2, 3, 8, 8)))


class _StubHead:
    """levels = the input itself; cam22 = 0.5 at the full grid, 0.25 at the half grid."""

    num_classes = 2

    def __init__(self, full):
        self.full = full
        self.calls = []

    def levels(self, feats):
        return [feats[0]]

    def train_outputs(self, feats, valid):
        x = feats[0]
        self.calls.append((x.shape[0], valid.clone()))
        n, _, h, w = x.shape
        val = 0.5 if h == self.full else 0.25
        return dict(
            score=torch.zeros(n, 2) + 0 * x.sum(),
            cam22=torch.full((n, 3, h, w), val),
            pcam=torch.zeros(n, 3, h, w))


class _StubNet:

    def extract_feat(self, x):
        return (x, )


def _ctx(tmp_path, b=1, h=4):
    samples = []
    for i in range(b):
        gt = np.stack([np.ones((6, 6)), np.zeros((6, 6)), np.ones((6, 6))]).astype(np.float32)
        np.save(osp.join(tmp_path, f'im{i}.npy'), gt)
        samples.append(BaseDataElement(metainfo=dict(img_path=f'/data/JPEGImages/im{i}.jpg')))
    inputs = torch.rand(b, 3, h, h)
    ctx = TrainContext(
        inputs=inputs,
        img=torch.zeros(b, 3, h, h, dtype=torch.uint8),
        img_labels=torch.tensor([[1.0, 0.0]] * b),
        data_samples=samples)
    ctx.branches['net'] = BranchOutput(feats=(inputs, ))
    return ctx


def test_term_two_scale_weights(tmp_path):
    ctx = _ctx(tmp_path)
    head = _StubHead(full=4)
    ctx.extras['cam_heads'] = dict(psdpm=head)
    ctx.extras['branch_modules'] = dict(net=_StubNet())
    term = PSDPMTerm(baseline_dir=str(tmp_path))
    out = term.compute(ctx)
    # labels [1, 0]: valid = (bg 1, class1 1, class2 0); gt x valid = (1, 0, 0)
    # s1: cam22 0.5: (0.5 + 0.5 + 0.5) / 3 + 0.05 * 0.5 = 0.525; x 2 = 1.05
    assert abs(out['loss_gsc'].item() - 1.05) < 1e-6
    # s2 (x0.5 input, 2x2 grid): cam22 0.25: (0.75 + 0.25 + 0.25) / 3 + 0.0125; x 0.4
    assert abs(out['loss_cons'].item() - 0.4 * (1.25 / 3 + 0.0125)) < 1e-6
    assert abs(out['loss_cls'].item() - math.log(2)) < 1e-6
    assert [c[0] for c in head.calls] == [1, 1]  # no replay: the batch only


def test_term_with_replay_appends_and_writes_slots(tmp_path):
    ctx = _ctx(tmp_path, b=2)
    head = _StubHead(full=4)
    ctx.extras['cam_heads'] = dict(psdpm=head)
    ctx.extras['branch_modules'] = dict(net=_StubNet())
    term = PSDPMTerm(baseline_dir=str(tmp_path), replay=dict(num_slots=3, seed=0))
    term.compute(ctx)
    assert [c[0] for c in head.calls] == [5, 5]  # 2 images + 3 slots at both scales
    # first step: the empty slots carry zero masks
    assert torch.equal(head.calls[0][1][2:], torch.zeros(3, 3, 4, 4))
    written = term.replay.labels.clone()
    assert (written.sum(1) >= 1).all()
    # second step: the slot masks come back; at s2 bilinearly resized from the s1 grid
    head.calls.clear()
    before = term.replay.valid1.clone()
    assert before.sum() > 0
    term.compute(ctx)
    v1 = head.calls[0][1][2:]
    assert torch.equal(v1, before)
    v2 = head.calls[1][1][2:]
    ref = torch.nn.functional.interpolate(before, size=(2, 2), mode='bilinear')
    assert torch.equal(v2, ref)
    for s in range(3):
        if term.replay.img[s].abs().sum() > 0:  # a written slot holds one of the inputs
            assert any(torch.equal(term.replay.img[s], ctx.inputs[i]) for i in range(2))


def test_term_missing_baseline_names_the_image(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.data_samples[0].set_metainfo(dict(img_path='/data/JPEGImages/nope.jpg'))
    ctx.extras['cam_heads'] = dict(psdpm=_StubHead(full=4))
    ctx.extras['branch_modules'] = dict(net=_StubNet())
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        PSDPMTerm(baseline_dir=str(tmp_path)).compute(ctx)
    with pytest.raises(KeyError, match='baseline_dir'):
        PSDPMTerm().compute(ctx)


def test_slot_count_must_cover_the_classes():
    rep = ReplaySlots(num_slots=2)
    like = dict(
        img=torch.rand(1, 3, 2, 2),
        valid1=torch.ones(1, 3, 1, 1),
        labels=torch.tensor([[0.0, 1.0]]),
        gt1=torch.rand(1, 3, 1, 1),
        gt2=torch.rand(1, 3, 1, 1))
    rep.state(like)
    with pytest.raises(ValueError, match='num_slots = 1 \\+ C'):
        rep.write(like, torch.tensor([[1.0, 0.0, 1.0]]))


def test_use_replay_switch():
    assert PSDPMTerm(replay=dict(num_slots=21), use_replay=False).replay is None
    assert PSDPMTerm(replay=None).replay is None
    assert PSDPMTerm(replay=dict(num_slots=21, seed=3)).replay.num_slots == 21
