"""ConfidenceEncoderDecoder hands data_sample.gt_conf_mask to every ConfidenceWeightedLoss."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

from mmwsss.models.losses import ConfidenceWeightedLoss
from mmwsss.models.segmentors import stack_confidence
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.utils import register_all_modules

register_all_modules(init_default_scope=False)


def _head(kind, **kw):
    return dict(
        type=f'mmseg.{kind}',
        in_channels=8,
        channels=4,
        num_convs=1,
        num_classes=3,
        norm_cfg=None,
        dropout_ratio=0.0,  # deterministic: the test recomputes the logits
        align_corners=False,
        **kw)


def _model(aux_loss=True):
    conf_loss = dict(type='mmwsss.ConfidenceWeightedLoss', loss_name='loss_ce')
    aux = dict(
        type='mmwsss.ConfidenceWeightedLoss', mode='threshold', thr=0.5,
        loss_name='loss_ce') if aux_loss else dict(
            type='mmseg.CrossEntropyLoss', loss_name='loss_ce')
    cfg = dict(
        type='ConfidenceEncoderDecoder',
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1], size=(12, 12)),
        backbone=dict(
            type='mmseg.ResNetV1c',
            depth=18,
            num_stages=1,
            out_indices=(0, ),
            strides=(1, ),
            dilations=(1, ),
            base_channels=8,
            stem_channels=8,
            norm_cfg=dict(type='BN')),
        decode_head=_head('FCNHead', loss_decode=[conf_loss]),
        auxiliary_head=_head('FCNHead', loss_decode=aux),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(cfg))  # mmseg reads test_cfg.mode as an attribute


def _sample(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    s = WSSSDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    label = torch.randint(0, 3, (1, h, w), generator=g)
    label[0, 0, 0] = 255
    s.gt_sem_seg = PixelData(data=label)
    s.gt_conf_mask = PixelData(data=torch.randint(0, 256, (1, h, w), generator=g))
    return s


def test_stack_pads_like_the_label():
    a, b = _sample(3, 4, 0), _sample(2, 3, 1)
    b.gt_sem_seg = PixelData(data=F.pad(b.gt_sem_seg.data, (0, 1, 0, 1), value=255))
    conf = stack_confidence([a, b])
    assert conf.shape == (2, 3, 4)
    assert torch.equal(conf[1, :2, :3], b.gt_conf_mask.data[0].float())
    assert conf[1, 2].sum() == 0 and conf[1, :, 3].sum() == 0
    with pytest.raises(KeyError, match='PackWSSSMaps'):
        stack_confidence([WSSSDataSample()])


def test_losses_see_the_confidence_of_each_pixel():
    model = _model()
    model.train()
    imgs = [torch.rand(3, 12, 12) * 255, torch.rand(3, 9, 10) * 255]
    data = dict(inputs=imgs, data_samples=[_sample(12, 12, 0), _sample(9, 10, 1)])
    data = model.data_preprocessor(data, training=True)
    inputs, samples = data['inputs'], data['data_samples']
    losses = model.loss(inputs, samples)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    # the same numbers by hand: logits resized to the padded label, weights conf / 255
    label = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    assert label.shape == (2, 12, 12) and (label[1, 9:] == 255).all()
    conf = torch.zeros(2, 12, 12)
    conf[0] = samples[0].gt_conf_mask.data[0].float()
    conf[1, :9, :10] = samples[1].gt_conf_mask.data[0].float()
    feats = model.extract_feat(inputs)
    for head, name, mode in ((model.decode_head, 'decode.loss_ce', 'weight'),
                             (model.auxiliary_head, 'aux.loss_ce', 'threshold')):
        logits = F.interpolate(head(feats), size=(12, 12), mode='bilinear', align_corners=False)
        ce = F.cross_entropy(logits, label, ignore_index=255, reduction='none')
        if mode == 'weight':
            w = conf / 255
        else:
            w = (conf / 255 >= 0.5).float()
        w = w * (label != 255)
        assert torch.allclose(losses[name], (w * ce).sum() / w.sum(), atol=1e-5)
    # handed back after the step
    assert all(m._confidence is None for m in model.modules()
               if isinstance(m, ConfidenceWeightedLoss))


def test_inference_is_plain_and_a_loss_is_required():
    model = _model(aux_loss=False)
    model.eval()
    out = model.test_step(
        dict(
            inputs=[torch.rand(3, 12, 12) * 255],
            data_samples=[WSSSDataSample(metainfo=dict(img_shape=(12, 12), ori_shape=(12, 12)))]))
    assert out[0].pred_sem_seg.data.shape == (1, 12, 12)
    cfg = dict(
        type='ConfidenceEncoderDecoder',
        backbone=dict(
            type='mmseg.ResNetV1c',
            depth=18,
            num_stages=1,
            out_indices=(0, ),
            strides=(1, ),
            dilations=(1, ),
            base_channels=8,
            stem_channels=8),
        # the loss named with its scope: mmseg's unprefixed default would be looked up in
        # whatever default scope an earlier test left (mmwsss in the full suite)
        decode_head=_head('FCNHead', loss_decode=dict(type='mmseg.CrossEntropyLoss')))
    with pytest.raises(ValueError, match='ConfidenceWeightedLoss'):
        MODELS.build(cfg)
