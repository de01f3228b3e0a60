"""ClassifierTransfer: CAM head rows from a pretrained ImageNet classifier."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.datasets import COCO_CLASSES, COCO_TO_VOC, VOC_CLASSES
from mmwsss.models.heads import CAMHead
from mmwsss.models.utils import (COCO_TO_IMAGENET, VOC_TO_IMAGENET, ClassifierTransferInit,
                                 transfer_classifier_rows)


def test_rows_by_hand():
    src = torch.arange(15.).reshape(5, 3)  # row i = (3i, 3i+1, 3i+2)
    rows, mapped = transfer_classifier_rows(src, ['a', 'b', 'c'], {'a': [0, 2], 'b': [4]})
    assert mapped == [True, True, False]
    assert rows.tolist() == [[3., 4., 5.], [12., 13., 14.], [0., 0., 0.]]
    # a 1x1-conv shaped source gives the same rows
    rows4, _ = transfer_classifier_rows(src[..., None, None], ['a', 'b', 'c'], {
        'a': [0, 2],
        'b': [4]
    })
    assert torch.equal(rows4, rows)


def test_rows_errors():
    src = torch.zeros(5, 3)
    with pytest.raises(KeyError, match='zebra'):
        transfer_classifier_rows(src, ['a'], {'zebra': [0]})
    with pytest.raises(IndexError, match=r"'a'.*\[7\]"):
        transfer_classifier_rows(src, ['a'], {'a': [1, 7]})
    with pytest.raises(KeyError, match='unknown class_map'):
        transfer_classifier_rows(src, ['a'], 'imagenet-22k')


def test_voc_map_is_well_formed():
    assert set(VOC_TO_IMAGENET) == set(VOC_CLASSES[1:])
    flat = [i for v in VOC_TO_IMAGENET.values() for i in v]
    assert all(0 <= i < 1000 for i in flat)
    assert len(flat) == len(set(flat)), 'an ImageNet class is mapped to two VOC classes'
    assert len(VOC_TO_IMAGENET['dog']) == 118  # the ImageNet dog breeds 151..268


def test_coco_map_is_well_formed():
    assert set(COCO_TO_IMAGENET) <= set(COCO_CLASSES[1:])
    assert len(COCO_TO_IMAGENET) == 60  # 20 COCO classes have no ImageNet counterpart
    assert 'giraffe' not in COCO_TO_IMAGENET and 'kite' not in COCO_TO_IMAGENET
    flat = [i for v in COCO_TO_IMAGENET.values() for i in v]
    assert all(0 <= i < 1000 for i in flat) and len(flat) == len(set(flat))
    # the VOC categories keep their VOC lists, except pickup (717): a COCO truck
    for coco_name, voc_name in COCO_TO_VOC.items():
        expected = set(VOC_TO_IMAGENET[voc_name]) - ({717} if voc_name == 'car' else set())
        assert set(COCO_TO_IMAGENET[coco_name]) == expected, coco_name
    assert 717 in COCO_TO_IMAGENET['truck']


def test_coco_head_keeps_default_init_for_unmapped(tmp_path):
    src = torch.randn(1000, 4)
    ckpt = tmp_path / 'imagenet.pth'
    torch.save({'imagenet_head': {'weight': src}}, ckpt)
    init_default_scope('mmwsss')
    head = CAMHead(
        in_channels=4,
        num_classes=80,
        init_cfg=[
            dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
            dict(type='ClassifierTransfer', checkpoint=str(ckpt), class_map='coco')
        ])
    head.init_weights()
    w = head.conv_seg.weight[..., 0, 0]
    zebra = COCO_CLASSES.index('zebra') - 1
    giraffe = COCO_CLASSES.index('giraffe') - 1
    assert torch.equal(w[zebra], src[340])
    assert 0 < w[giraffe].abs().max() < 0.1


def _head(init_cfg):
    init_default_scope('mmwsss')
    return CAMHead(in_channels=4, num_classes=3, init_cfg=init_cfg)


def test_initializer_in_head_init_cfg(tmp_path):
    src = torch.arange(24.).reshape(6, 4)
    ckpt = tmp_path / 'imagenet.pth'
    torch.save({'state_dict': {}, 'imagenet_head': {'weight': src, 'bias': torch.zeros(6)}}, ckpt)
    torch.manual_seed(0)
    head = _head([
        dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
        dict(
            type='ClassifierTransfer',
            checkpoint=str(ckpt),
            classes=['x', 'y', 'z'],
            class_map={
                'x': [1, 3],
                'z': [5]
            })
    ])
    head.init_weights()
    w = head.conv_seg.weight[..., 0, 0]
    assert w[0].tolist() == [8., 9., 10., 11.]  # mean of rows 1 (4..7) and 3 (12..15)
    assert w[2].tolist() == [20., 21., 22., 23.]
    # the unmapped class keeps the Normal(0, 0.01) init
    assert 0 < w[1].abs().max() < 0.1


def test_initializer_errors(tmp_path):
    cfg = dict(type='ClassifierTransfer', classes=['x', 'y', 'z'], class_map={'x': [0]})
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _head(dict(cfg, checkpoint=str(tmp_path / 'missing.pth'))).init_weights()
    backbone_only = tmp_path / 'backbone.pth'
    torch.save({'state_dict': {}}, backbone_only)
    with pytest.raises(KeyError, match='--keep-head'):
        _head(dict(cfg, checkpoint=str(backbone_only))).init_weights()
    wide = tmp_path / 'wide.pth'
    torch.save({'imagenet_head': {'weight': torch.zeros(6, 8)}}, wide)
    with pytest.raises(ValueError, match='8 input channels'):
        _head(dict(cfg, checkpoint=str(wide))).init_weights()
    with pytest.raises(ValueError, match='needs `classes`'):
        ClassifierTransferInit(str(wide), class_map={'x': [0]})._classes()
