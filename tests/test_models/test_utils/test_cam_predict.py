"""CAMPredictMixin.predict_cams with the IRN / ToCo presets equals the official
functions run on each unpadded image (sizes not multiples of the stride 16)."""
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmwsss.models.utils.cam_inference import CAM_PRESETS, irn_make_cam, toco_multi_scale_cam
from mmwsss.models.utils.image_norm import normalize
from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
SIZES = [(37, 53), (45, 61)]


def _model(**test_cfg):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='CAMClassifier',
            data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=True),
            backbone=tiny_backbone_cfg(),  # output stride 16
            decode_head=dict(
                type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=0, num_classes=3),
            test_cfg=test_cfg))
    model.init_weights()
    # a unit-scale classifier: with the default std 0.01 the CAMs are ~1e-4 and
    # the normalisations' eps (1e-5) would dominate the comparisons
    for p in model.decode_head.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=1.)
    return model.eval()


def _padded_batch():
    """Two uint8 RGB images of SIZES, normalised and bottom/right-padded into one
    (2, 3, 48, 64) batch, with data samples that say so."""
    g = torch.Generator().manual_seed(3)
    imgs = [torch.randint(0, 256, (1, 3, *s), generator=g, dtype=torch.uint8) for s in SIZES]
    inputs = torch.zeros(2, 3, 48, 64)
    for i, (img, (h, w)) in enumerate(zip(imgs, SIZES)):
        inputs[i, :, :h, :w] = normalize(img, MEAN, STD, True)[0]
    _, samples = demo_wsss_inputs(batch=2, num_classes=3)
    for s, size in zip(samples, SIZES):
        s.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=(48, 64)))
    labels = torch.stack([s.gt_img_label.float() for s in samples])
    return imgs, inputs, samples, labels


def test_irn_default_is_make_cam_per_unpadded_image():
    model = _model()  # no preset: IRN's recipe is the default
    assert model.cam_cfg['input_resize'] == 'pil_bicubic' and model.cam_cfg['out_stride'] == 16
    imgs, inputs, samples, labels = _padded_batch()
    cams = model.predict_cams(inputs, samples)
    for cam, img, size, lab in zip(cams, imgs, SIZES, labels):
        ref = irn_make_cam(model.cam_fn, img[0], CAM_PRESETS['irn']['scales'], MEAN, STD)
        assert cam.shape == (3, *size)
        assert torch.allclose(cam, ref * lab[:, None, None], atol=1e-4)
    # the former input path (torch-bilinear rescale of the normalised tensor)
    # and resize (straight to H x W) give other CAMs
    old = _model(input_resize='scale_factor', out_stride=None)
    x = inputs[:1, :, :37, :53]
    old_cam = old.predict_cams(inputs, samples)[0]
    assert (old_cam - cams[0]).abs().max() > 1e-2
    assert torch.equal(model.predict_cams(x, samples[:1])[0], cams[0])  # no padding leak


def test_toco_preset_is_multi_scale_cam2_per_unpadded_image():
    model = _model(preset='toco')
    imgs, inputs, samples, labels = _padded_batch()
    cams = model.predict_cams(inputs, samples)
    for i, ((h, w), lab) in enumerate(zip(SIZES, labels)):
        ref = toco_multi_scale_cam(model.cam_fn, inputs[i:i + 1, :, :h, :w], (1.0, 0.5, 1.5))
        assert torch.allclose(cams[i], ref[0] * lab[:, None, None], atol=1e-4)


def test_test_time_flip_and_ori_shape():
    model = _model(preset='toco')
    _, inputs, samples, _ = _padded_batch()
    base = model.predict_cams(inputs, samples)[1]
    samples[1].set_metainfo(dict(flip=True, flip_direction='horizontal'))
    assert torch.allclose(model.predict_cams(inputs, samples)[1], base.flip(-1), atol=1e-6)
    samples[1].set_metainfo(dict(flip=False, ori_shape=(90, 122)))
    big = model.predict_cams(inputs, samples)[1]
    assert big.shape == (3, 90, 122)
    exp = F.interpolate(base[None], size=(90, 122), mode='bilinear', align_corners=False)[0]
    lab = samples[1].gt_img_label.float()
    # minmax after the resize: equal up to the renormalisation of present classes
    from mmwsss.models.utils import normalize_cams
    assert torch.allclose(big, normalize_cams(exp, 'minmax') * lab[:, None, None], atol=1e-4)
