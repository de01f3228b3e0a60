"""RCA's terms on a hand-built training context: the write follows the loss, off or on."""
import os.path as osp

import numpy as np
import torch
from mmengine.structures import BaseDataElement
from PIL import Image

from mmwsss.models.heads.rca_head import RCACoarseHead, RCAHead
from mmwsss.models.losses.terms.rca import RCAAttentionTerm, RCAContrastTerm
from mmwsss.structures import BranchOutput, TrainContext


def _ctx(it, head, coarse, labels, names=('a', 'b')):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    lm, cm = head((x, ))
    lc, cc = coarse((x, ))
    samples = [BaseDataElement(metainfo=dict(img_path=f'/d/{n}.jpg')) for n in names]
    out = BranchOutput(feats=(x, ), cams=dict(main=cm, coarse=cc), logits=dict(main=lm, coarse=lc))
    ctx = TrainContext(
        inputs=torch.zeros(2, 3, 8, 8),
        img=torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
        img_labels=labels,
        data_samples=samples,
        iter=it)
    ctx.branches['net'] = out
    ctx.cams.update(out.cams)
    ctx.logits.update(out.logits)
    ctx.extras['cam_heads'] = dict(main=head, coarse=coarse)
    return ctx, x


def _parts():
    head = RCAHead(
        in_channels=4, num_classes=3, channels=2, inter_channels=4, num_clusters=2, queue_len=4)
    # a large score bias: every present class is confident (> 0.7) and gets written
    for h in head.extra_convs:
        h.extra_score.bias.data.fill_(5.0)
    coarse = RCACoarseHead(in_channels=4, num_classes=3, channels=2)
    # RCA's N(0, 0.01) init on a 2-channel toy head gives a coarse map constant to float
    # precision, hence empty region masks (softmax never above its mean): spread it
    for m in coarse.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data.normal_(0, 1.0)
    return head, coarse


def test_contrast_off_still_writes_memory():
    head, coarse = _parts()
    labels = torch.tensor([[1., 0, 1], [0, 1, 0]])
    term = RCAContrastTerm(weight=0.01, schedule=dict(type='StepOn', start=10, strict=False))
    ctx, _ = _ctx(0, head, coarse, labels)
    init = head.memory.protos.clone()
    out = term(ctx)
    assert out['loss_contrast'].item() == 0.0 and out['mem_writes'].item() == 3
    # class 0 and 2 from image 0, class 1 from image 1: slot 0 blended 0.99 / 0.01
    changed = (head.memory.protos != init).any(-1)
    assert changed[:, 0].tolist() == [True, True, True] and not changed[:, 1:].any()
    assert head.memory.ptr.tolist() == [1, 1, 1]


def test_contrast_on_uses_memory_before_the_write():
    torch.manual_seed(1)
    head, coarse = _parts()
    labels = torch.tensor([[1., 0, 1], [0, 1, 0]])
    # tau 1: at 0.07 a 4-d toy memory saturates the softmax and the gradient underflows
    term = RCAContrastTerm(
        weight=0.01, tau=1.0, schedule=dict(type='StepOn', start=10, strict=False))
    ctx, x = _ctx(10, head, coarse, labels)
    out = term(ctx)
    assert out['loss_contrast'] > 0
    out['loss_contrast'].backward()
    assert x.grad.abs().sum() > 0  # through extra_F into the backbone features
    assert head.memory.count.sum().item() == 3


def test_attention_accumulation_rules(tmp_path):
    head, coarse = _parts()
    labels = torch.tensor([[1., 0, 1], [0, 1, 0]])
    att = str(tmp_path / 'att')
    term = RCAAttentionTerm(att_dir=att, iters_per_epoch=2, num_epochs=3)
    ctx, _ = _ctx(1, head, coarse, labels)  # epoch 0: nothing
    assert term(ctx)['att_written'].item() == 0 and not osp.isdir(att)
    ctx, _ = _ctx(2, head, coarse, labels)  # epoch 1: every present class, confident
    assert term(ctx)['att_written'].item() == 3
    assert sorted(__import__('os').listdir(att)) == ['a_0.png', 'a_2.png', 'b_1.png']
    img = np.asarray(Image.open(osp.join(att, 'a_0.png')))
    assert img.shape == (3, 3) and img.max() == 255  # normalised by its max


def test_accumulator_max_skip_and_last_epoch(tmp_path):
    from mmwsss.models.utils.attention_accumulation import AttentionAccumulator
    acc = AttentionAccumulator(str(tmp_path), min_prob=0.1)
    a = torch.tensor([[0.0, 1.0], [2.0, -1.0]])  # -> rint((0, .5, 1, 0) * 255)
    assert acc.update('x', 3, a, prob=0.5, last_epoch=False) == 'written'
    assert acc.read('x', 3).tolist() == [[0, 128], [255, 0]]
    b = torch.tensor([[4.0, 0.0], [0.0, 2.0]])  # -> (255, 0, 0, 128)
    assert acc.update('x', 3, b, prob=0.5, last_epoch=False) == 'accumulated'
    assert acc.read('x', 3).tolist() == [[255, 128], [255, 128]]
    assert acc.update('x', 3, b * 0, prob=0.05, last_epoch=True) == 'skipped'  # exists
    assert acc.update('y', 0, b, prob=0.05, last_epoch=False) == 'skipped'
    assert acc.read('y', 0) is None
    assert acc.update('y', 0, b, prob=0.05, last_epoch=True) == 'written'  # missing, last
    # a killed run's temporary file is removed by the next accumulator
    (tmp_path / '.x_3.png.123-ab.tmp').write_bytes(b'half')
    AttentionAccumulator(str(tmp_path))
    assert not (tmp_path / '.x_3.png.123-ab.tmp').exists()
