"""AffinityNet training stage: labels -> pairs -> loss, end to end on tiny inputs."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.testing import TINY_CHANNELS, tiny_backbone_cfg

init_default_scope('mmwsss')


def _model(**kwargs):
    cfg = dict(
        type='AffinityNet',
        num_classes=3,
        backbone=tiny_backbone_cfg(out_indices=(1, 2, 3)),
        aff_head=dict(type='AffinityHead', in_channels=TINY_CHANNELS[1:], channels=(4, 4, 8)),
        **kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _samples(labels):
    out = []
    for lab in labels:
        s = WSSSDataSample(metainfo=dict(img_shape=lab.shape, pad_shape=lab.shape))
        s.gt_sem_seg = PixelData(data=lab[None].long())
        out.append(s)
    return out


def test_pair_counts_by_hand():
    # 64 x 96 -> 8 x 12 affinity map; sources: 4 rows x 4 cols, 34 offsets each
    model = _model()
    inputs = torch.randn(2, 3, 64, 96)
    labels = [torch.ones(64, 96), torch.zeros(64, 96)]
    losses = model.loss(inputs, _samples(labels))
    assert losses['num_fg_pos'].item() == 544  # image 1: all pairs fg-positive
    assert losses['num_bg_pos'].item() == 544  # image 2: all pairs bg-positive
    assert losses['num_neg'].item() == 0
    assert torch.isfinite(losses['loss_aff'])


def test_loss_backward_and_split_labels():
    model = _model()
    inputs = torch.randn(1, 3, 64, 96)
    label = torch.zeros(64, 96)
    label[:, 48:] = 2
    label[:8] = 255
    losses = model.loss(inputs, _samples([label]))
    assert losses['num_neg'] > 0 and losses['num_fg_pos'] > 0 and losses['num_bg_pos'] > 0
    losses['loss_aff'].backward()
    assert model.aff_head.fuse_conv.weight.grad.abs().sum() > 0
    assert next(model.backbone.parameters()).grad is not None


def test_forward_through_the_preprocessor():
    pre = dict(
        type='mmseg.SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(64, 96),
        pad_val=0,
        seg_pad_val=254)
    model = _model(data_preprocessor=pre)
    img = torch.randint(0, 255, (3, 60, 90), dtype=torch.uint8)
    data = dict(inputs=[img], data_samples=_samples([torch.ones(60, 90)]))
    data = model.data_preprocessor(data, True)
    assert data['inputs'].shape[-2:] == (64, 96)
    losses = model(**data, mode='loss')
    # partial blocks at the border still vote for class 1: every pair is fg-positive
    assert losses['num_fg_pos'].item() == 544
    feats = model(data['inputs'], mode='tensor')
    assert feats.shape == (1, 16, 8, 12)


def test_missing_labels_raise():
    model = _model()
    with pytest.raises(KeyError, match='gt_sem_seg'):
        model.loss(torch.randn(1, 3, 64, 96), [WSSSDataSample()])
