"""The single-stage chassis: branches, named CAMs / pseudo labels, scheduled loss terms."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from torch import nn

from mmwsss.models.losses.terms import LossTerm
from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext, WSSSBatch
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg

C = 3  # foreground classes

DECODE_HEADS = {
    'fcn':
    dict(
        type='mmseg.FCNHead',
        in_channels=TINY_CHANNELS[-1],
        in_index=-1,
        channels=16,
        num_convs=1,
        concat_input=False,
        num_classes=C + 1),
    'aspp':
    dict(
        type='mmseg.ASPPHead',
        in_channels=TINY_CHANNELS[-1],
        in_index=-1,
        channels=16,
        dilations=(1, 6),
        num_classes=C + 1),
    'segformer':
    dict(
        type='mmseg.SegformerHead',
        in_channels=list(TINY_CHANNELS),
        in_index=[0, 1, 2, 3],
        channels=16,
        num_classes=C + 1),
}
PRE = dict(type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.])


@MODELS.register_module(force=True)
class _SpyTerm(LossTerm):
    """Records the context it sees; returns one loss of value 1 and one log value."""

    seen = {}

    def __init__(self, name='spy', key='loss_spy', **kw):
        super().__init__(name=name, **kw)
        self.key = key

    def compute(self, ctx):
        _SpyTerm.seen['ctx'] = ctx
        one = ctx.cams['main'].sum() * 0 + 1.0
        return {self.key: one, 'info': one * 7}


def _branch(head='fcn'):
    return dict(
        backbone=tiny_backbone_cfg(out_indices=(0, 1, 2, 3)),
        cam_heads=dict(
            main=dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=-1, num_classes=C)),
        decode_head=DECODE_HEADS[head])


def _model(head='fcn', label_sources=None, loss_terms=None, **kw):
    init_default_scope('mmwsss')
    cfg = dict(
        type='SingleStageWSSS',
        data_preprocessor=PRE,
        **_branch(head),
        label_sources=label_sources
        or dict(seg=dict(type='CAMLabelSource', cam='main', bg_thr=0.5, ignore_band=(0.25, 0.7))),
        loss_terms=loss_terms or [
            dict(type='ClsTerm', name='cls', cam='main'),
            dict(type='SegTerm', name='decode', label='seg', loss='head')
        ])
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('head', list(DECODE_HEADS))
def test_any_mmseg_decode_head_trains_on_named_labels(head):
    model = _model(head)
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    losses = model.loss(inputs / 255., samples)
    assert 'cls.loss_cls' in losses and 'decode.loss_ce' in losses
    # the shared data samples are NOT overwritten: labels live in ctx.pseudo
    assert 'gt_sem_seg' not in samples[0]
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.branches['net'].decode_head.conv_seg.weight.grad is not None
    model.eval()
    out = model.predict(inputs / 255., samples)
    assert out[0].pred_sem_seg.data.shape == (1, 32, 32)
    assert out[0].seg_logits.data.shape == (C + 1, 32, 32)


def test_typed_context_and_pseudo_labels():
    model = _model(loss_terms=[dict(type='_SpyTerm')])
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    MessageHub.get_current_instance().update_info('iter', 3)
    model.loss(inputs / 255., samples)
    ctx = _SpyTerm.seen['ctx']
    assert isinstance(ctx, TrainContext)
    assert ctx.iter == 3
    assert ctx.img.dtype == torch.uint8 and ctx.img.shape == (2, 3, 32, 32)
    assert ctx.img_labels.tolist() == [[1, 1, 0], [0, 1, 1]]
    assert set(ctx.cams) == {'main'} and set(ctx.branches) == {'net'}
    lab = ctx.pseudo['seg']
    assert lab.shape == (2, 32, 32)
    assert set(lab[0].unique().tolist()) <= {0, 1, 2, 255}  # sample 0: classes 1, 2
    with pytest.raises(KeyError, match="no pseudo named 'nope'.*available: \\['seg'\\]"):
        ctx.require('pseudo', 'nope')
    MessageHub.get_current_instance().update_info('iter', 0)


def test_fallback_image_is_the_denormalised_rgb_picture():
    model = _model(loss_terms=[dict(type='_SpyTerm')])
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    model.loss(inputs / 255., samples)
    # mean 0, std 255, no channel conversion -> inputs are BGR in 0..1; x255, flipped
    expected = inputs.flip(1).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(_SpyTerm.seen['ctx'].img, expected)


def test_schedule_weight_prefix_and_log_only_keys():
    model = _model(
        loss_terms=[dict(type='_SpyTerm', weight=0.5, schedule=dict(type='StepOn', start=10))])
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 10)  # `n_iter <= 10` is still off (ToCo's rule)
    losses = model.loss(inputs / 255., samples)
    assert losses['spy.loss_spy'].item() == 0.0
    assert losses['spy.info'].item() == 7.0  # log-only keys are never weighted
    hub.update_info('iter', 11)
    assert model.loss(inputs / 255., samples)['spy.loss_spy'].item() == 0.5
    hub.update_info('iter', 0)


def test_duplicate_names_and_keys_are_errors():
    with pytest.raises(ValueError, match='unique'):
        _model(loss_terms=[dict(type='_SpyTerm'), dict(type='_SpyTerm')])
    init_default_scope('mmwsss')
    with pytest.raises(ValueError, match="CAM head name 'main'"):
        MODELS.build(
            dict(
                type='SingleStageWSSS',
                data_preprocessor=PRE,
                branches=dict(a=_branch(), b=_branch())))


def test_two_branches_cross_supervise_without_overwriting():
    """DuPL's layout: seg of branch a learns from b's label and the other way round."""
    init_default_scope('mmwsss')
    b1, b2 = _branch(), _branch()
    b2['cam_heads'] = dict(main2=b2['cam_heads']['main'])
    model = MODELS.build(
        dict(
            type='SingleStageWSSS',
            data_preprocessor=PRE,
            branches=dict(a=b1, b=b2),
            label_sources=dict(
                la=dict(type='CAMLabelSource', cam='main', bg_thr=0.5),
                lb=dict(type='CAMLabelSource', cam='main2', bg_thr=0.5)),
            loss_terms=[
                dict(type='SegTerm', name='seg_a', branch='a', label='lb', loss='bg_fg'),
                dict(type='SegTerm', name='seg_b', branch='b', label='la', loss='bg_fg'),
                dict(type='_SpyTerm')
            ]))
    model.init_weights()
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    losses = model.loss(inputs / 255., samples)
    ctx = _SpyTerm.seen['ctx']
    assert set(ctx.pseudo) == {'la', 'lb'} and not torch.equal(ctx.pseudo['la'], ctx.pseudo['lb'])
    losses['seg_a.loss_seg'].backward()
    # branch a's decode head got a gradient, branch b's did not
    assert model.branches['a'].decode_head.conv_seg.weight.grad is not None
    assert model.branches['b'].decode_head.conv_seg.weight.grad is None


def test_predict_source_cam_uses_named_head():
    model = _model(
        test_cfg=dict(predict_source='cam', cam_head='main', cam=dict(preset='toco', bg_thr=0.5)))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    model.eval()
    out = model.predict(inputs / 255., samples)
    assert out[0].cams.data.shape == (C, 32, 32)
    # sample 0 is labelled {0, 1}: class 2's CAM is zeroed, the others peak at 1
    cams = out[0].cams.data
    assert cams[2].abs().max() == 0
    # the label is cam_to_label of those CAMs at ToCo's bkg 0.5
    from mmwsss.models.utils import cam_to_label
    assert torch.equal(out[0].pred_sem_seg.data, cam_to_label(cams[None], bg_thr=0.5))


def test_multi_scale_label_sources_share_one_pass():
    """Two label sources with the same multi-scale setting run the backbone once per view."""
    model = _model(
        label_sources=dict(
            a=dict(type='CAMLabelSource', cam='main', multi_scale=dict(preset='toco'), bg_thr=0.5),
            b=dict(
                type='CAMLabelSource',
                cam='main',
                multi_scale=dict(preset='toco'),
                bg_thr=0.3,
                size='cam')),
        loss_terms=[dict(type='_SpyTerm')])
    calls = []
    bb = model.branches['net'].backbone
    handle = bb.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    model.loss(inputs / 255., samples)
    handle.remove()
    # 1 training pass + 3 scales (image and flip batched) = 4 backbone calls, not 7
    assert len(calls) == 4
    ctx = _SpyTerm.seen['ctx']
    assert ctx.pseudo['b'].shape[-2:] == ctx.cams['main'].shape[-2:]


def test_wsss_batch_from_preprocessor_is_used():
    model = _model(loss_terms=[dict(type='_SpyTerm')])
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    img = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    valid = torch.ones(1, 32, 32, dtype=torch.bool)
    valid[:, :, 20:] = False
    batch = WSSSBatch(img=img, img_labels=torch.tensor([[0., 0., 1.]]), valid_mask=valid)
    model.loss(inputs / 255., samples, batch)
    ctx = _SpyTerm.seen['ctx']
    assert ctx.img is img and ctx.img_labels.tolist() == [[0, 0, 1]]
    assert (ctx.pseudo['seg'][:, :, 20:] == 255).all()  # padding is ignored


def test_frozen_branch_backbone():
    init_default_scope('mmwsss')
    cfg = _branch()
    cfg['frozen'] = True
    model = MODELS.build(
        dict(type='SingleStageWSSS', data_preprocessor=PRE, branches=dict(net=cfg)))
    model.train()
    bb = model.branches['net'].backbone
    assert not bb.training and not any(p.requires_grad for p in bb.parameters())


def test_needs_branches_or_backbone():
    init_default_scope('mmwsss')
    with pytest.raises(ValueError, match='branches'):
        MODELS.build(dict(type='SingleStageWSSS', data_preprocessor=PRE))
    with pytest.raises(ValueError, match='predict_source'):
        _model(test_cfg=dict(predict_source='both'))
    assert isinstance(_model().branches['net'], nn.Module)


def test_view_pass_runs_the_branch_on_a_view():
    model = _model(
        loss_terms=[dict(type='_SpyTerm')],
        view_passes=dict(flip=dict(branch='net', view='flip', with_seg=False)))
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C)
    # a non-symmetric input, so that a pass on the wrong tensor is caught
    inputs = inputs + torch.arange(32.)[None, None, None] * 3
    flipped = (inputs / 255.).flip(-1)
    batch = WSSSBatch(
        img=inputs.round().clamp(0, 255).to(torch.uint8),
        img_labels=torch.tensor([[1., 1., 0.], [0., 1., 1.]]),
        views=dict(flip=flipped))
    model.loss(inputs / 255., samples, batch)
    ctx = _SpyTerm.seen['ctx']
    out = ctx.passes['flip']
    assert out.seg_logits is None and set(out.cams) == {'main'}
    assert set(ctx.cams) == {'main'}  # the pass's CAMs stay in ctx.passes
    expected = model.branches['net'].cam_fn('main')(flipped)
    assert torch.allclose(out.cams['main'], expected)
    assert not torch.allclose(out.cams['main'], ctx.cams['main'])


def test_view_pass_starts_at_its_iteration():
    model = _model(
        loss_terms=[dict(type='_SpyTerm')],
        view_passes=dict(flip=dict(branch='net', view='flip', with_seg=False, start=5)))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    batch = WSSSBatch(
        img=inputs.round().clamp(0, 255).to(torch.uint8),
        img_labels=torch.tensor([[1., 0., 0.]]),
        views=dict(flip=(inputs / 255.).flip(-1)))
    hub = MessageHub.get_current_instance()
    try:
        for it, ran in ((4, False), (5, True)):
            hub.update_info('iter', it)
            model.loss(inputs / 255., samples, batch)
            assert ('flip' in _SpyTerm.seen['ctx'].passes) is ran, it
    finally:
        hub.update_info('iter', 0)


def test_view_pass_config_errors():
    with pytest.raises(KeyError, match="view pass 'v': no branch 'b9'"):
        _model(view_passes=dict(v=dict(branch='b9', view='x')))
    with pytest.raises(KeyError, match="view pass 'v' needs 'view'"):
        _model(view_passes=dict(v=dict(branch='net')))
    with pytest.raises(KeyError, match="view pass 'v': unknown keys \\['scale'\\]"):
        _model(view_passes=dict(v=dict(branch='net', view='x', scale=2)))
    with pytest.raises(KeyError, match="has no CAM heads \\['aux'\\]"):
        _model(view_passes=dict(v=dict(branch='net', view='x', cam_heads=['aux'])))
    model = _model(
        loss_terms=[dict(type='_SpyTerm')], view_passes=dict(v=dict(branch='net', view='x')))
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=C)
    with pytest.raises(KeyError, match="no views named 'x'"):
        model.loss(inputs / 255., samples)


def test_init_weights_reaches_every_branch_and_head(tmp_path):
    """A backbone's init_cfg=Pretrained and the CAM heads' Normal(0.01) init must run inside
    the chassis containers (torch's ModuleDict has no init_weights: mmengine skipped them)."""
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    donor = MODELS.build(tiny_backbone_cfg(out_indices=(3, )))
    with torch.no_grad():
        for p in donor.parameters():
            p.fill_(0.125)
    ckpt = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict=donor.state_dict()), ckpt)
    backbone = dict(
        tiny_backbone_cfg(out_indices=(3, )), init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    head = dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=0, num_classes=C)
    model = MODELS.build(
        dict(
            type='SingleStageWSSS',
            data_preprocessor=PRE,
            branches=dict(
                b1=dict(backbone=backbone, cam_heads=dict(cam1=head)),
                b2=dict(backbone=tiny_backbone_cfg(out_indices=(3, )), cam_heads=dict(cam2=head))),
            loss_terms=[dict(type='ClsTerm', name='cls', cam='cam1')]))
    model.init_weights()
    conv1 = model.branches['b1'].backbone.stem[0].weight
    assert torch.all(conv1 == 0.125)  # the checkpoint was loaded
    for b, h in (('b1', 'cam1'), ('b2', 'cam2')):
        std = model.branches[b].cam_heads[h].conv_seg.weight.std().item()
        assert 0.008 < std < 0.012, (b, std)  # Normal(0, 0.01), not torch's default


class _Src(nn.Module):

    def __init__(self, inputs=()):
        super().__init__()
        self.inputs = tuple(inputs)

    def pseudo_inputs(self):
        return self.inputs


def test_label_sources_run_after_the_labels_they_read():
    from mmwsss.models.segmentors.single_stage import order_label_sources

    # a dumped config sorts keys: 'a_gmm' (reads 'l2') would come before 'l2'
    srcs = dict(a_gmm=_Src(['l2']), l1=_Src(), l2=_Src(), z=_Src(['a_gmm', 'l1']))
    assert list(order_label_sources(srcs)) == ['l1', 'l2', 'a_gmm', 'z']
    plain = dict(b=nn.Identity(), a=nn.Identity())  # no pseudo_inputs: config order
    assert list(order_label_sources(plain)) == ['b', 'a']
    with pytest.raises(KeyError, match="'a' reads pseudo labels \\['nope'\\]"):
        order_label_sources(dict(a=_Src(['nope'])))
    with pytest.raises(ValueError, match='cycle'):
        order_label_sources(dict(a=_Src(['b']), b=_Src(['a'])))
