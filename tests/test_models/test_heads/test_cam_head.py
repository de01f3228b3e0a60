import math

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.heads import CAMHead
from mmwsss.structures import WSSSDataSample, stack_img_labels


def _head(pool, **kw):
    init_default_scope('mmwsss')
    head = CAMHead(in_channels=2, num_classes=1, pool=pool, **kw)
    with torch.no_grad():
        head.conv_seg.weight.copy_(torch.tensor([2., 1.]).view(1, 2, 1, 1))
    return head


# features: channel 0 = [1, 3], channel 1 = [2, 0] on a 1x2 map
FEAT = torch.tensor([[[[1., 3.]], [[2., 0.]]]])


def test_cam_is_linear_classifier_without_bias():
    head = _head('gap')
    assert head.conv_seg.bias is None
    # cam = 2 * f0 + f1 = [4, 6]
    assert head([FEAT])[1].flatten().tolist() == [4., 6.]


@pytest.mark.parametrize(
    'pool,expected',
    [
        ('gap', 5.),
        ('gmp', 8.),
        ('topk', 6.),
        # LSE r=1: log((e^4 + e^6) / 2) = 6 + log((1 + e^-2) / 2) = 5.4338
        (dict(type='LSEPool', r=1.0), 6 + math.log((1 + math.exp(-2)) / 2)),
    ])
def test_pooling(pool, expected):
    # gap: mean cam = 5; gmp: W * max(f) = 2*3 + 1*2 = 8 (NOT max cam = 6); top-1 of cam = 6
    head = _head(pool, topk=1)
    logits, cams = head([FEAT])
    assert logits.item() == pytest.approx(expected, rel=1e-6)
    assert cams.flatten().tolist() == [4., 6.]


def test_one_forward_for_training_and_cams():
    """loss() trains on the same pooling forward() returns (no second pooling path)."""
    head = _head(dict(type='LSEPool', r=1.0))
    s = WSSSDataSample()
    s.gt_img_label = torch.tensor([1.])
    x = torch.tensor(6 + math.log((1 + math.exp(-2)) / 2))
    # MultiLabelSoftMargin for one positive class: log(1 + exp(-x))
    assert head.loss([FEAT], [s])['loss_cls'].item() == pytest.approx(
        math.log1p(math.exp(-x.item())), rel=1e-5)


def test_topk_ratio():
    head = _head('topk', topk=1.0)  # ratio 1.0 = all positions = GAP
    assert head([FEAT])[0].item() == pytest.approx(5.)


def test_loss_is_multilabel_soft_margin():
    init_default_scope('mmwsss')
    head = CAMHead(in_channels=2, num_classes=2, pool='gap')
    torch.nn.init.zeros_(head.conv_seg.weight)  # logits 0 -> loss log(2)
    s = WSSSDataSample()
    s.gt_img_label = torch.tensor([1., 0.])
    losses = head.loss([FEAT], [s])
    assert losses['loss_cls'].item() == pytest.approx(math.log(2), abs=1e-6)
    assert 'acc_cls' in losses


def test_stack_img_labels_from_metainfo_and_errors():
    s = WSSSDataSample(metainfo=dict(img_labels=[0, 2], img_path='a.jpg'))
    assert stack_img_labels([s], 3).tolist() == [[1., 0., 1.]]
    bad = WSSSDataSample(metainfo=dict(img_labels=[3], img_path='b.jpg'))
    with pytest.raises(ValueError, match='b.jpg'):
        stack_img_labels([bad], 3)
    with pytest.raises(KeyError, match='c.jpg'):
        stack_img_labels([WSSSDataSample(metainfo=dict(img_path='c.jpg'))], 3)
    s2 = WSSSDataSample(metainfo=dict(img_path='d.jpg'))
    s2.gt_img_label = torch.ones(4)
    with pytest.raises(ValueError, match='d.jpg'):
        stack_img_labels([s2], 3)


def test_bad_pool():
    with pytest.raises(ValueError, match='pool'):
        CAMHead(in_channels=2, num_classes=1, pool='avg')
    with pytest.raises(ValueError, match='r must be'):
        CAMHead(in_channels=2, num_classes=1, pool=dict(type='LSEPool', r=0))


def test_one_reader_precedence_and_dict_samples():
    """gt_img_label wins over the metainfo indices; evaluator dicts read the same way."""
    from mmwsss.structures import img_label_of
    s = WSSSDataSample(metainfo=dict(img_labels=[0], img_path='e.jpg'))
    s.gt_img_label = torch.tensor([0., 1., 0.])
    assert img_label_of(s, 3).tolist() == [0., 1., 0.]
    assert img_label_of(s.to_dict(), 3).tolist() == [0., 1., 0.]
    meta_only = WSSSDataSample(metainfo=dict(img_labels=[2], img_path='f.jpg'))
    assert img_label_of(meta_only.to_dict(), 3).tolist() == [0., 0., 1.]
    assert img_label_of(WSSSDataSample(), 3, required=False) is None
