"""ToCo's terms on the chassis with a tiny random ViT: wiring, EMA update, schedules."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSBatch
from mmwsss.testing import demo_wsss_inputs

C, D = 3, 32


def _toco(**kw):
    init_default_scope('mmwsss')
    ms = dict(preset='toco', scales=(1.0, 0.5))
    cfg = dict(
        type='SingleStageWSSS',
        data_preprocessor=dict(
            type='WSSSDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.], num_classes=C),
        backbone=dict(
            type='TokenViT',
            vit=dict(
                type='timm',
                model_name='vit_tiny_patch16_224',
                depth=4,
                embed_dim=D,
                num_heads=2,
                img_size=64)),
        cam_heads=dict(
            main=dict(type='CAMHead', in_channels=D, in_index=0, num_classes=C, pool='gmp'),
            aux=dict(type='CAMHead', in_channels=D, num_classes=C, pool='gmp', source='aux')),
        decode_head=dict(
            type='LargeFOVHead', in_channels=D, in_index=0, channels=16, num_classes=C + 1),
        label_sources=dict(
            aff=dict(
                type='CAMLabelSource',
                cam='aux',
                multi_scale=ms,
                size='cam',
                bg_thr=0.5,
                ignore_band=(0.25, 0.7)),
            seg=dict(
                type='CAMLabelSource',
                cam='main',
                multi_scale=ms,
                refiner=dict(type='PARRefiner', bg_high=0.7, bg_low=0.25))),
        loss_terms=[
            dict(type='ClsTerm', name='cls', cam='main'),
            dict(type='ClsTerm', name='cls_aux', cam='aux'),
            dict(type='PTCTerm', name='ptc', label='aff', weight=0.2),
            dict(
                type='CTCTerm',
                name='ctc',
                in_dim=D,
                out_dim=8,
                head=dict(hidden_dim=16, bottleneck_dim=8),
                multi_scale=ms,
                crop_num=2,
                crop_size=16,
                weight=0.5,
                global_view='g2',
                local_view='loc'),
            dict(
                type='SegTerm',
                name='seg',
                label='seg',
                loss='bg_fg',
                weight=0.1,
                schedule=dict(type='StepOn', start=2),
                skip_when_off=True),
            dict(
                type='EnergyTerm',
                name='reg',
                label='seg',
                weight=0.05,
                schedule=dict(type='StepOn', start=2),
                skip_when_off=True)
        ])
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _batch(inputs, labels):
    img = inputs.round().clamp(0, 255).to(torch.uint8)
    views = dict(g2=inputs.flip(-1) / 255., loc=inputs / 255.)
    return WSSSBatch(
        img=img,
        img_labels=labels,
        valid_mask=torch.ones(inputs.shape[0], *inputs.shape[-2:], dtype=torch.bool),
        views=views)


def test_toco_step_all_terms_and_gradients():
    model = _toco()
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C, size=(64, 64))
    labels = torch.stack([s.gt_img_label for s in samples])
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 3)
    losses = model.loss(inputs / 255., samples, _batch(inputs, labels))
    hub.update_info('iter', 0)
    for key in ('cls.loss_cls', 'cls_aux.loss_cls', 'ptc.loss_ptc', 'ctc.loss_ctc', 'seg.loss_seg',
                'reg.loss_reg'):
        assert key in losses and torch.isfinite(losses[key]), key
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    net = model.branches['net']
    assert net.cam_heads['aux'].conv_seg.weight.grad is not None
    assert net.decode_head.conv_seg.weight.grad is not None
    ctc = model.loss_terms[3]
    assert ctc.head.mlp[0].weight.grad is not None
    # the teacher is never trained by gradients
    assert all(p.grad is None for p in ctc.teacher.module.parameters())


def test_seg_terms_are_skipped_before_their_onset():
    model = _toco()
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C, size=(64, 64))
    labels = torch.stack([s.gt_img_label for s in samples])
    losses = model.loss(inputs / 255., samples, _batch(inputs, labels))  # iter 0
    assert losses['seg.loss_seg'].item() == 0.0 and losses['reg.loss_reg'].item() == 0.0


def test_ctc_teacher_moves_towards_the_student_each_step():
    model = _toco()
    ctc = model.loss_terms[3]
    with torch.no_grad():
        for p in ctc.head.parameters():
            p.add_(1.0)  # student != teacher now
    before = [p.clone() for p in ctc.teacher.module.parameters()]
    student = [p.clone() for p in ctc.head.parameters()]
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C, size=(64, 64))
    labels = torch.stack([s.gt_img_label for s in samples])
    model.loss(inputs / 255., samples, _batch(inputs, labels))
    for t0, s, t1 in zip(before, student, ctc.teacher.module.parameters()):
        assert torch.allclose(t1, 0.9 * t0 + 0.1 * s, atol=1e-6)


def test_ptc_needs_a_token_grid_label():
    model = _toco(
        label_sources=dict(
            aff=dict(type='CAMLabelSource', cam='aux', bg_thr=0.5),  # input size, not 'cam'
            seg=dict(type='CAMLabelSource', cam='main', bg_thr=0.5)))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C, size=(64, 64))
    labels = torch.stack([s.gt_img_label for s in samples])
    with pytest.raises(ValueError, match="size='cam'"):
        model.loss(inputs / 255., samples, _batch(inputs, labels))
