import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from torch import nn

from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg

C = 3  # foreground classes

DECODE_HEADS = {
    'fcn': dict(type='mmseg.FCNHead', in_channels=TINY_CHANNELS[-1], in_index=-1,
                channels=16, num_convs=1, concat_input=False, num_classes=C + 1),
    'aspp': dict(type='mmseg.ASPPHead', in_channels=TINY_CHANNELS[-1], in_index=-1,
                 channels=16, dilations=(1, 6), num_classes=C + 1),
    'segformer': dict(type='mmseg.SegformerHead', in_channels=list(TINY_CHANNELS),
                      in_index=[0, 1, 2, 3], channels=16, num_classes=C + 1),
}


@MODELS.register_module(force=True)
class _MeanCAMTerm(nn.Module):
    """A plug-in loss term (tests the extra_losses contract): mean of the CAMs."""

    def forward(self, ctx):
        assert ctx['pseudo_label'].shape[-2:] == ctx['inputs'].shape[-2:]
        return {'loss_mean_cam': ctx['cams'].mean() * 0 + 1.0}


def _model(head='fcn', **kw):
    init_default_scope('mmwsss')
    cfg = dict(
        label_source=dict(type='CAMLabelSource', bg_thr=0.5, ignore_band=(0.25, 0.7)))
    cfg.update(kw)
    cfg.update(
        type='SingleStageWSSS',
        data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.]),
        backbone=tiny_backbone_cfg(out_indices=(0, 1, 2, 3)),
        cls_head=dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=-1,
                      num_classes=C),
        decode_head=DECODE_HEADS[head])
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('head', list(DECODE_HEADS))
def test_any_mmseg_decode_head_trains_on_online_labels(head):
    model = _model(head)
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    losses = model.loss(inputs, samples)
    assert 'loss_cls' in losses and 'decode.loss_ce' in losses
    # the online labels were written where mmseg heads read them
    lab = samples[0].gt_sem_seg.data
    assert lab.shape == (1, 32, 32)
    assert set(lab.unique().tolist()) <= {0, 1, 2, 255}  # sample 0 labels: classes 1, 2
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.decode_head.conv_seg.weight.grad is not None
    # inference goes through the decode head, at ori shape, C + 1 classes
    model.eval()
    out = model.predict(inputs, samples)
    assert out[0].pred_sem_seg.data.shape == (1, 32, 32)
    assert out[0].seg_logits.data.shape == (C + 1, 32, 32)


def test_seg_loss_start_iter_and_extra_terms():
    model = _model(seg_loss_start_iter=100, extra_losses=[dict(type='_MeanCAMTerm')])
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 5)
    losses = model.loss(inputs, samples)
    assert losses['decode.loss_ce'].item() == 0
    assert losses['loss_mean_cam'].item() == 1.0
    hub.update_info('iter', 100)
    losses = model.loss(inputs, samples)
    assert losses['decode.loss_ce'].item() > 0
    hub.update_info('iter', 0)


def test_predict_source_cam_and_multiscale_labels():
    model = _model(test_cfg=dict(predict_source='cam', cam=dict(preset='toco')),
                   label_source=dict(type='CAMLabelSource', bg_thr=0.5,
                                     multi_scale=dict(scales=(1.0, 0.5), flip=True,
                                                      flip_merge='max', relu_first=False)))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    losses = model.loss(inputs, samples)
    assert 'decode.loss_ce' in losses
    model.eval()
    out = model.predict(inputs, samples)
    assert out[0].cams.data.shape == (C, 32, 32)


def test_par_label_source_gets_uint8_rgb_image():
    """A refiner in the label source sees the de-normalised uint8 RGB image."""
    seen = {}

    @MODELS.register_module(force=True)
    class _SpyRefiner(nn.Module):
        def forward(self, state):
            seen['img'] = state['img']
            return state

    model = _model(label_source=dict(type='CAMLabelSource', bg_thr=0.5,
                                     refiner=dict(type='_SpyRefiner')))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    model.loss(inputs / 255., samples)  # what the preprocessor would hand over
    img = seen['img']
    assert img.dtype == torch.uint8
    # preprocessor: mean 0, std 255, no channel conversion -> inputs are BGR in 0..1;
    # de-normalised x255 and flipped to RGB
    expected = inputs.flip(1).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(img, expected)


def test_par_refiner_in_single_stage():
    model = _model(label_source=dict(
        type='CAMLabelSource', bg_thr=0.5,
        refiner=dict(type='PARRefiner', bg_high=0.7, bg_low=0.25)))
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    losses = model.loss(inputs, samples)
    assert 'decode.loss_ce' in losses
    assert set(samples[1].gt_sem_seg.data.unique().tolist()) <= {0, 2, 3, 255}
