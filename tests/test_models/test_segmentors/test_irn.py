"""IRN training stage: IR labels -> path affinities + displacement -> loss."""
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmwsss.models.segmentors.irn import pair_displacement
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.testing import TINY_CHANNELS, tiny_backbone_cfg

init_default_scope('mmwsss')


def _model():
    cfg = dict(
        type='IRN',
        backbone=tiny_backbone_cfg(out_indices=(0, 1, 2, 3)),
        irn_head=dict(
            type='IRNHead', in_channels=TINY_CHANNELS, dp_mid=16, dp_channels=(8, 16, 16, 16)))
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


def test_pair_displacement_by_hand():
    # a displacement field equal to minus the pixel coordinates: dp(i) - dp(j) = j - i
    h, w = 12, 20
    ys = torch.arange(h).float().view(h, 1).expand(h, w)
    xs = torch.arange(w).float().view(1, w).expand(h, w)
    disp = -torch.stack([ys, xs])[None]
    model = _model()
    pd = pair_displacement(disp, model.offsets, model.radius)
    assert pd.shape == (1, 2, 152, 3, 2)
    assert torch.allclose(pd, model.disp_target.expand_as(pd))


def test_loss_and_frozen_backbone():
    model = _model()
    model.train()
    assert not model.backbone.training  # IRN keeps the backbone in eval mode
    inputs = torch.randn(1, 3, 64, 96)  # stride-4 map 16 x 24 -> 7 x 6 sources
    label = torch.ones(64, 96)
    label[:, 48:] = 0
    losses = model.loss(inputs, _samples([label]))
    assert set(losses) >= {'loss_aff', 'loss_dp'}
    total = losses['loss_aff'] + losses['loss_dp']
    total.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.irn_head.edge_out.weight.grad.abs().sum() > 0
    assert model.irn_head.dp_out.weight.grad.abs().sum() > 0
    edge = model.encode_decode(inputs)
    assert edge.shape == (1, 1, 16, 24) and ((edge >= 0) & (edge <= 1)).all()
