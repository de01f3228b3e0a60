import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg


def _model(**test_cfg):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    cfg = dict(
        type='CAMClassifier',
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.]),
        backbone=tiny_backbone_cfg(),
        decode_head=dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=0, num_classes=3),
        test_cfg={
            **dict(scales=(1.0, 0.5)),
            **test_cfg
        })
    model = MODELS.build(cfg)
    model.init_weights()
    # positive classifier rows on the ReLU'd features: every class has a positive CAM
    # somewhere, whatever the random draw (a random row can give an all-negative CAM,
    # whose normalised map is 0 and would fail the "present class peaks at 1" checks)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.abs_()
    return model


def test_loss_and_train_step_update_weights():
    model = _model()
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=3)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_cls', 'acc_cls'}
    assert losses['loss_cls'] > 0
    w = model.decode_head.conv_seg.weight.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses['loss_cls'].backward()
    opt.step()
    assert not torch.equal(w, model.decode_head.conv_seg.weight)


def test_predict_cams_masked_normalised_at_ori_shape():
    model = _model(bg_thr=0.3).eval()
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=3, size=(32, 32))
    # second image: padded batch (valid 32x24 region) and an original of 40x30
    samples[1].set_metainfo(dict(img_shape=(32, 24), ori_shape=(40, 30)))
    out = model.predict(inputs, samples)
    cam0, cam1 = out[0].cams.data, out[1].cams.data
    assert cam0.shape == (3, 32, 32) and cam1.shape == (3, 40, 30)
    # sample 0 has labels {0, 1}; class 2 must be zero, present ones max ~1
    assert cam0[2].abs().max() == 0
    assert cam0[:2].flatten(1).max(1)[0].min() > 0.99
    assert cam1[0].abs().max() == 0  # sample 1 has labels {1, 2}
    assert cam0.min() >= 0 and cam0.max() <= 1
    # pred_sem_seg follows cam_to_label with bg_thr 0.3
    from mmwsss.models.utils import cam_to_label
    assert torch.equal(out[0].pred_sem_seg.data, cam_to_label(cam0[None], bg_thr=0.3))


def test_predict_via_test_step_and_tensor_mode():
    model = _model().eval()
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=3)
    out = model.test_step(dict(inputs=[inputs[0]], data_samples=samples))
    assert out[0].cams.data.shape == (3, 32, 32)
    logits = model(inputs, mode='tensor')
    assert logits.shape == (1, 3)


def test_presets_and_flip_merge_recorded():
    model = _model(preset='toco')
    assert model.cam_cfg['flip_merge'] == 'max' and model.cam_cfg['norm'] == 'minmax'
    # user keys override the preset
    model = _model(preset='toco', scales=(1.0, ))
    assert model.cam_cfg['scales'] == (1.0, )
    with pytest.raises(KeyError):
        _model(preset='nope')


def test_norm_eps_reaches_the_normalisation():
    # max normalisation x / (max + eps): with eps 1.0 a present class peaks at max / (max + 1)
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=3, size=(32, 32))
    default = _model(bg_thr=0.3).eval().predict(inputs, samples)[0].cams.data
    big = _model(bg_thr=0.3, norm_eps=1.0).eval()
    raw = big.predict(inputs, samples)[0].cams.data
    present = samples[0].gt_img_label.bool()
    assert default[present].flatten(1).max(1)[0].min() > 0.99
    peaks = raw[present].flatten(1).max(1)[0]
    assert (peaks < 0.99).all() and (peaks > 0).all()
    # the same model with the default eps gives maps that are a per-class rescale of these
    ratio = default[present].flatten(1).max(1)[0] / peaks
    assert torch.allclose(default[present], raw[present] * ratio[:, None, None], atol=1e-4)
