"""LPCAMClassifier: a CAM classifier whose predictions are local-prototype CAMs."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.prototypes.lpcam import lpcam_multi_scale
from mmwsss.models.prototypes.offline import save_prototypes
from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg

D = TINY_CHANNELS[-1]


def _cfg(type_='LPCAMClassifier', **kwargs):
    cfg = dict(
        type=type_,
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.]),
        backbone=tiny_backbone_cfg(),
        decode_head=dict(type='CAMHead', in_channels=D, in_index=0, num_classes=3),
        test_cfg=dict(scales=(1.0, 0.5), bg_thr=0.3))
    cfg.update(kwargs)
    return cfg


def _model(**kwargs):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    model = MODELS.build(_cfg(**kwargs))
    model.init_weights()
    return model.eval()


def _protos(tmp_path, fg_counts=(2, 1, 3), ctx_counts=(1, 0, 2)):
    gen = torch.Generator().manual_seed(1)
    k = 3
    clusters = {}
    for pool, counts in (('fg', fg_counts), ('ctx', ctx_counts)):
        clusters[f'{pool}_centers'] = torch.randn(3, k, D, generator=gen).numpy()
        keep = np.zeros((3, k), bool)
        for c, n in enumerate(counts):
            keep[c, :n] = True
        clusters[f'{pool}_keep'] = keep
        clusters[f'{pool}_probs'] = np.zeros((3, k), np.float32)
        clusters[f'{pool}_sizes'] = keep.astype(np.int64)
    out = str(tmp_path / 'protos')
    save_prototypes(out, clusters, {})
    return out, clusters


def test_prototypes_stay_out_of_the_state_dict(tmp_path):
    proto_dir, _ = _protos(tmp_path)
    cam = _model(type_='CAMClassifier')
    lp = _model(prototype_dir=proto_dir)
    lp.banks()  # loaded
    assert set(lp.state_dict()) == set(cam.state_dict())
    lp.load_state_dict(cam.state_dict(), strict=True)


def test_no_prototypes_is_a_clear_error():
    model = _model()
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=3, size=(32, 32))
    with pytest.raises(RuntimeError, match='make_prototype_cams'):
        model.predict(inputs, samples)
    with pytest.raises(ValueError, match="'lpcam' or 'classifier'"):
        _model(cam_source='gradcam')


def test_predict_is_lpcam_of_present_classes(tmp_path):
    proto_dir, clusters = _protos(tmp_path)
    model = _model(prototype_dir=proto_dir)
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=3, size=(32, 32))
    samples[1].set_metainfo(dict(img_shape=(32, 24), ori_shape=(40, 30)))
    out = model.predict(inputs, samples)
    cam0, cam1 = out[0].cams.data, out[1].cams.data
    assert cam0.shape == (3, 32, 32) and cam1.shape == (3, 40, 30)
    assert cam0[2].abs().max() == 0 and cam1[0].abs().max() == 0  # absent classes
    # the same numbers as the plain function with the kept centres of classes 0 and 1
    protos = {}
    for c in (0, 1):
        p = torch.from_numpy(clusters['fg_centers'][c][clusters['fg_keep'][c]])
        q = torch.from_numpy(clusters['ctx_centers'][c][clusters['ctx_keep'][c]])
        protos[c] = (p, q)
    ref = lpcam_multi_scale(
        model.head_features,
        inputs[:1],
        protos,
        scales=(1.0, 0.5),
        input_resize='pil_bicubic',
        img_norm=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=False))
    assert torch.allclose(cam0[:2], ref, atol=1e-5)
    from mmwsss.models.utils import cam_to_label
    assert torch.equal(out[0].pred_sem_seg.data, cam_to_label(cam0[None], bg_thr=0.3))


def test_classifier_source_is_the_cam(tmp_path):
    cam = _model(type_='CAMClassifier')
    lp = _model(cam_source='classifier')
    lp.load_state_dict(cam.state_dict())
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=3, size=(32, 32))
    a = cam.predict_cams(inputs, samples)[0]
    b = lp.predict_cams(inputs, samples)[0]
    assert torch.equal(a, b)
    assert torch.equal(lp.classifier_weight(), cam.decode_head.conv_seg.weight.flatten(1))


def test_labelled_class_without_prototype(tmp_path):
    proto_dir, _ = _protos(tmp_path, fg_counts=(0, 1, 1))
    model = _model(prototype_dir=proto_dir)
    inputs, samples = demo_wsss_inputs(batch=1, num_classes=3, size=(32, 32))
    with pytest.raises(ValueError, match='class 0 has no class prototype in .*centers.npz'):
        model.predict(inputs, samples)  # sample 0 is labelled {0, 1}
    # without image labels: every class that has prototypes, class 0 stays zero
    model.cam_cfg['use_img_labels'] = False
    cam = model.predict_cams(inputs, samples)[0]
    # class 1 (no context prototype): mean cosine, max-normalised to 1
    assert cam[0].abs().max() == 0 and cam[1].max() > 0.99
