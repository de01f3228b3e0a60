"""Dense CRF refiner (pydensecrf2)."""
import math

import numpy as np
import pytest
import torch

pytest.importorskip('pydensecrf.densecrf')

from mmwsss.models.refiners import CRF_PRESETS, DenseCRF, RefineChain, dense_crf  # noqa: E402
from mmwsss.models.refiners.crf import crf_image, label_unary, softmax_unary  # noqa: E402
from mmwsss.registry import MODELS  # noqa: E402


def two_colour_image(h=24, w=32, edge=16):
    """Left half red-ish, right half blue-ish, (1, 3, H, W) uint8 RGB."""
    img = torch.zeros(1, 3, h, w, dtype=torch.uint8)
    img[0, 0, :, :edge] = 220
    img[0, 1, :, :edge] = 40
    img[0, 1, :, edge:] = 90
    img[0, 2, :, edge:] = 230
    return img


def blurry_scores(h=24, w=32, centre=10.0):
    """bg / class-1 / class-2 scores whose soft edge sits at column ``centre``."""
    x = torch.arange(w).float()
    fg = torch.sigmoid((x - centre) / 4).expand(h, w)
    return torch.stack([1 - fg, 0.9 * fg, 0.1 * fg])[None]


def test_unary_hand_numbers():
    u = softmax_unary(np.array([[[0.5, 0.0]], [[0.5, 1.0]]], dtype=np.float32))
    assert u.shape == (2, 2) and u.dtype == np.float32
    np.testing.assert_allclose(u[:, 0], [math.log(2), math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(u[:, 1], [-math.log(1e-5), 0.0], atol=1e-6)  # clipped
    lu = label_unary(np.array([[0, 2, -1]]), 3, 0.7)
    np.testing.assert_allclose(
        lu[:, 0], [-math.log(0.7), -math.log(0.15), -math.log(0.15)], rtol=1e-6)
    np.testing.assert_allclose(
        lu[:, 1], [-math.log(0.15), -math.log(0.15), -math.log(0.7)], rtol=1e-6)
    np.testing.assert_allclose(lu[:, 2], [math.log(3)] * 3, rtol=1e-6)  # unsure


def test_presets_table():
    assert CRF_PRESETS['psa']['bilateral'] == (80, 13, 10)
    crf = DenseCRF(preset='irn_label')
    assert crf.unary == 'label' and crf.gt_prob == 0.7 and crf.num_iter == 10
    assert crf.gaussian == (3, 3) and crf.bilateral == (50, 5, 10) and crf.output == 'label'
    crf = DenseCRF(preset='psa', bilateral=(60, 10, 5))  # explicit args override
    assert crf.bilateral == (60, 10, 5) and crf.gaussian == (3, 3)
    assert DenseCRF(preset='toco_seg').bilateral == (121, 5, 4)


def test_blurry_scores_snap_to_colour_edge():
    img = two_colour_image()
    scores = blurry_scores()
    assert (scores.argmax(1)[0, 0] == 1).nonzero().min() == 11  # edge before the CRF
    crf = DenseCRF(preset='psa', output='both')
    state = crf(
        dict(
            img=img,
            cams=torch.zeros(1, 2, 24, 32),
            img_labels=torch.tensor([[1., 0.]]),
            scores=scores))
    label = state['label'][0]
    assert (label[:, :16] == 0).all() and (label[:, 16:] == 1).all()
    assert (state['scores'][:, 2] == 0).all()  # absent class: zeros
    q = state['scores'][0, :2]
    assert torch.allclose(q.sum(0), torch.ones(24, 32), atol=1e-4)  # marginals


def test_only_present_classes_enter_the_crf():
    img = two_colour_image()
    g = torch.Generator().manual_seed(0)
    cams = torch.rand(1, 4, 24, 32, generator=g)
    labels = torch.tensor([[0., 1., 0., 1.]])
    crf = DenseCRF(preset='psa', bg_power=4)
    out = crf(dict(img=img, cams=cams, img_labels=labels))['scores']
    # by hand: [(1 - max of the present CAMs) ** 4, cam_2, cam_4] -> CRF -> channels 0, 2, 4
    fg = cams[0, [1, 3]]
    probs = torch.cat([(1 - fg.max(0, keepdim=True)[0])**4, fg]).numpy()
    q = dense_crf(crf_image(img[0]), softmax_unary(probs), 10, (3, 3), (80, 13, 10))
    assert torch.allclose(out[0, [0, 2, 4]], torch.from_numpy(q), atol=1e-6)
    assert (out[0, [1, 3]] == 0).all()


def test_label_mode_keeps_confident_labels_and_fills_unsure():
    img = two_colour_image()
    label = torch.zeros(1, 24, 32, dtype=torch.long)
    label[0, :, 16:] = 3
    label[0, 5:9, 20:24] = 255  # unsure pixels inside the blue region
    crf = DenseCRF(preset='irn_label')
    state = crf(
        dict(
            img=img,
            cams=torch.zeros(1, 3, 24, 32),
            img_labels=torch.tensor([[0., 0., 1.]]),
            label=label))
    expected = torch.zeros(24, 32, dtype=torch.long)
    expected[:, 16:] = 3
    assert torch.equal(state['label'][0], expected)
    assert state.get('scores') is None


def test_label_mode_from_cams_with_bg_threshold():
    img = two_colour_image()
    cams = torch.zeros(1, 2, 24, 32)
    cams[0, 1, :, 18:] = 0.9  # CAM edge 2 px to the right of the colour edge
    crf = DenseCRF(preset='irn_label', bg_score=0.3)
    label = crf(dict(img=img, cams=cams, img_labels=torch.tensor([[0., 1.]])))['label'][0]
    assert (label[:, :16] == 0).all() and (label[:, 16:] == 2).all()
    cams[0, 1, :, 13:] = 0.9  # now 3 px to the left
    label = crf(dict(img=img, cams=cams, img_labels=torch.tensor([[0., 1.]])))['label'][0]
    assert (label[:, :16] == 0).all() and (label[:, 16:] == 2).all()


def test_channel_order_and_layout():
    """The refiner feeds (H, W, 3) RGB; BGR changes the lattice result, CHW breaks it."""
    rng = np.random.RandomState(0)
    img = two_colour_image(32, 32)
    noise = torch.from_numpy(rng.randint(0, 40, size=(1, 3, 32, 32))).to(torch.uint8)
    # colour-asymmetric: strong R left, strong B right
    img = (img.short() + noise.short()).clamp(0, 255).to(torch.uint8)
    scores = blurry_scores(32, 32, centre=12.0)
    state = DenseCRF(preset='psa')(
        dict(
            img=img,
            cams=torch.zeros(1, 2, 32, 32),
            img_labels=torch.tensor([[1., 0.]]),
            scores=scores))
    probs = scores[0, :2].numpy()
    rgb = img[0].permute(1, 2, 0).numpy().copy()
    q_rgb = dense_crf(rgb, softmax_unary(probs))
    q_bgr = dense_crf(np.ascontiguousarray(rgb[..., ::-1]), softmax_unary(probs))
    q_chw = dense_crf(np.ascontiguousarray(img[0].numpy().reshape(32, 32, 3)), softmax_unary(probs))
    assert np.array_equal(state['scores'][0, :2].numpy(), q_rgb)
    assert np.abs(q_rgb - q_bgr).max() > 1e-4
    assert np.abs(q_rgb - q_chw).max() > 1e-2


def test_chain_crf_then_valid_mask():
    chain = MODELS.build(
        dict(
            type='RefineChain',
            refiners=[dict(type='DenseCRF', preset='psa', bg_power=1, output='label')]))
    img = two_colour_image()
    cams = torch.zeros(1, 1, 24, 32)
    cams[0, 0, :, 12:] = 0.8
    valid = torch.ones(1, 24, 32, dtype=torch.bool)
    valid[0, 0] = False
    state = chain(dict(img=img, cams=cams, img_labels=torch.ones(1, 1), valid_mask=valid))
    label = RefineChain.final_label(chain, state)
    assert (label[0, 0] == 255).all()
    assert (label[0, 1:, :16] == 0).all() and (label[0, 1:, 16:] == 1).all()


@pytest.mark.parametrize('bad', [
    'size', 'nan', 'empty', 'outside', 'float_img', 'no_bg', 'scores_shape', 'scores_nan', 'no_img'
])
def test_bad_input_raises(bad):
    crf = DenseCRF(preset='psa', unary='label' if bad == 'outside' else None)
    state = dict(
        img=two_colour_image(8, 8, 4),
        cams=torch.rand(1, 2, 8, 8),
        img_labels=torch.tensor([[1., 0.]]),
        scores=torch.rand(1, 3, 8, 8))
    error = ValueError
    if bad == 'size':
        state['img'] = two_colour_image(8, 9, 4)
    elif bad == 'nan':
        state['cams'][0, 1, 2, 2] = float('nan')
    elif bad == 'empty':
        state['img_labels'] = torch.zeros(1, 2)
    elif bad == 'outside':
        state['label'] = torch.full((1, 8, 8), 3, dtype=torch.long)  # only 0..2 exist
    elif bad == 'float_img':
        state['img'] = state['img'].float()
        error = TypeError
    elif bad == 'no_bg':
        state.pop('scores')
    elif bad == 'scores_shape':
        state['scores'] = torch.rand(1, 2, 8, 8)
    elif bad == 'scores_nan':
        state['scores'][0, 0, 0, 0] = float('nan')
    else:
        state.pop('img')
        error = KeyError
    with pytest.raises(error):
        crf(state)


def test_bad_options():
    with pytest.raises(ValueError):
        DenseCRF(preset='nope')
    with pytest.raises(ValueError):
        DenseCRF(unary='hard')
    with pytest.raises(ValueError):
        DenseCRF(bg_power=4, bg_score=0.3)
    with pytest.raises(ValueError):
        label_unary(np.zeros((2, 2), dtype=np.int64), 3, 1.0)


def test_ignore_below_confidence():
    img = two_colour_image()
    scores = blurry_scores()
    base = dict(
        img=img, cams=torch.zeros(1, 2, 24, 32), img_labels=torch.tensor([[1., 0.]]), scores=scores)
    both = DenseCRF(preset='clip_es', output='both')(dict(base))
    conf = both['scores'].max(1)[0]
    thr = float(conf.median())
    out = DenseCRF(preset='clip_es', output='label', ignore_below=thr)(dict(base))['label']
    assert torch.equal(out == 255, conf < thr)
    assert torch.equal(out[conf >= thr], both['label'][conf >= thr])
    assert (out == 255).any() and (out != 255).any()
