"""LPCAM's formulas (mmwsss.models.prototypes.lpcam) with numbers worked out by hand."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.prototypes.lpcam import (LPCAM_DEFAULTS, classifier_probs, cluster_means,
                                            flip_fused_features, kmeans_cosine, lpcam_class_map,
                                            lpcam_max_norm, lpcam_multi_scale, nearest_resize,
                                            sample_images_per_class, select_centers, split_pools)
from mmwsss.models.utils.cam_inference import rescale_inputs


def _t(x):
    return torch.tensor(x, dtype=torch.float32)


def test_defaults_are_the_official_ones():
    assert LPCAM_DEFAULTS['voc'] == dict(
        num_clusters=12,
        select_thres=0.1,
        class_thres=0.9,
        context_thres=0.9,
        context_thres_low=0.05,
        images_per_class=None,
        sample_seed=666)
    coco = LPCAM_DEFAULTS['coco']
    assert (coco['num_clusters'], coco['select_thres'], coco['context_thres'],
            coco['context_thres_low'], coco['images_per_class']) == (20, 0.25, 0.5, 0.0, 100)


# ------------------------------------------------------------------ selection
def test_classifier_softmax_selection_by_hand():
    w = _t([[1., 0.], [0., 1.]])  # 2 classes, 2 channels
    # logits: (3, 0) -> p0 = e^3 / (e^3 + 1) = 0.9526; (1, 0) -> 0.7311; (0, 0) -> 0.5;
    # (0, 4) -> p0 = 1 / (1 + e^4) = 0.0180
    centers = _t([[3., 0.], [1., 0.], [0., 0.], [0., 4.]])
    p = classifier_probs(centers, w)[:, 0]
    expect = [math.exp(3) / (math.exp(3) + 1), math.e / (math.e + 1), 0.5, 1 / (1 + math.exp(4))]
    assert torch.allclose(p, _t(expect), atol=1e-6)
    assert select_centers(centers, w, 0, high=0.9).tolist() == [True, False, False, False]
    # context: 0.05 < p < 0.9
    assert select_centers(centers, w, 0, high=0.9, low=0.05).tolist() == \
        [False, True, True, False]
    # COCO: 0 < p < 0.5 (p = 0.5 is not kept: strict)
    assert select_centers(centers, w, 0, high=0.5, low=0.0).tolist() == \
        [False, False, False, True]
    # the same direction at unit norm is not selected: the selection depends on the
    # centres' scale, which is why k-means returns raw-feature means
    assert not select_centers(F.normalize(centers[:1], dim=1), w, 0, high=0.9).any()


def test_keep_best_fallback():
    w = _t([[1., 0.], [0., 1.]])
    centers = _t([[1., 0.], [2., 0.], [0., 1.]])  # p0 = 0.731, 0.881, 0.269
    assert not select_centers(centers, w, 0, high=0.9).any()  # the VOC code: empty
    assert select_centers(centers, w, 0, high=0.9, keep_best=True).tolist() == \
        [False, True, False]  # the COCO code: the best one
    assert select_centers(torch.zeros(0, 2), w, 0, high=0.9).shape == (0, )


# ------------------------------------------------------------------ the map
def _feats():
    # (1, 2, 1, 4): pixels (1, 0), (0, 1), (2, 1), (-1, 0)
    return _t([[1., 0., 2., -1.], [0., 1., 1., 0.]]).view(1, 2, 1, 4)


def test_class_map_two_clusters_with_context():
    centers = _t([[1., 0.], [0., 1.]])
    context = _t([[0., 1.]])
    # mean cos with the 2 centres: (1 + 0)/2, (0 + 1)/2, (2/sqrt5 + 1/sqrt5)/2, (-1 + 0)/2
    mean_cos = [0.5, 0.5, 3 / (2 * math.sqrt(5)), -0.5]
    ctx = [0., 1., 1 / math.sqrt(5), 0.]
    out = lpcam_class_map(_feats(), centers, context)
    expect = [max(a - b, 0.) for a, b in zip(mean_cos, ctx)]  # [0.5, 0, 0.2236, 0]
    assert out.shape == (1, 1, 4)
    assert torch.allclose(out.flatten(), _t(expect), atol=1e-6)
    # no context: no subtraction and no ReLU (the negative pixel stays negative)
    for none in (None, torch.zeros(0, 2)):
        assert torch.allclose(lpcam_class_map(_feats(), centers, none).flatten(), _t(mean_cos))
    with pytest.raises(ValueError, match='at least one'):
        lpcam_class_map(_feats(), torch.zeros(0, 2))


def test_class_map_is_scale_free_in_centres_and_features():
    centers = _t([[3., 1.], [0.5, 2.]])
    a = lpcam_class_map(_feats(), centers)
    b = lpcam_class_map(_feats() * 7.0, centers * 0.1)
    assert torch.allclose(a, b, atol=1e-6)


def test_max_norm_no_epsilon_and_zero_maps():
    cams = _t([[[0.5, 0.0, 0.25]], [[0.0, 0.0, 0.0]], [[-0.2, -0.1, -0.4]]])
    out = lpcam_max_norm(cams)
    assert out[0].flatten().tolist() == [1.0, 0.0, 0.5]  # exactly 1 at the max
    assert out[1].abs().sum() == 0  # 0 / 0 in the official code
    assert out[2].abs().sum() == 0  # no positive value: zeros


def test_flip_fused_features():
    x = torch.arange(6.).view(1, 1, 2, 3)

    def feat_fn(z):  # position-dependent, so the flip matters
        return z * torch.arange(1., 4.)

    fused = flip_fused_features(feat_fn, x)
    expect = feat_fn(x) + feat_fn(x.flip(-1)).flip(-1)
    assert torch.equal(fused, expect)


# ------------------------------------------------------------------ pools and clustering
def test_nearest_resize_and_split_pools():
    cam = _t([[[0.0, 1.0], [2.0, 3.0]]])  # (1, 2, 2) -> (1, 4, 4): each value a 2x2 block
    big = nearest_resize(cam, (4, 4))
    assert big[0, :2, :2].unique().tolist() == [0.0] and big[0, 3, 3] == 3.0
    # (1, 5, 3) -> (1, 2, 2): rows floor(i * 5/2) = 0, 2; cols floor(j * 3/2) = 0, 1
    src = torch.arange(15.).view(1, 5, 3)
    assert nearest_resize(src, (2, 2))[0].tolist() == [[0., 1.], [6., 7.]]
    feat = _t([[1., 2., 3.], [4., 5., 6.]]).view(2, 1, 3)
    fg, ctx = split_pools(feat, _t([[0.2, 0.1, 0.05]]), 0.1)
    # > 0.1: pixel 0; < 0.1: pixel 2; == 0.1: neither
    assert fg.tolist() == [[1., 4.]] and ctx.tolist() == [[3., 6.]]
    with pytest.raises(ValueError, match='same grid'):
        split_pools(feat, _t([[0.2, 0.1]]), 0.1)


def test_kmeans_cosine_two_clusters_raw_means():
    # two directions with different norms: cosine groups by direction only
    x = _t([[10., 0.], [9., 1.], [0., 5.], [1., 6.], [0.2, 0.]])
    labels, centers = kmeans_cosine(x, 2, seed=0)
    groups = {tuple(sorted(np.nonzero(labels.numpy() == k)[0].tolist())) for k in (0, 1)}
    assert groups == {(0, 1, 4), (2, 3)}
    got = {tuple(np.round(c, 4)) for c in centers.numpy().tolist()}
    # raw means (what kmeans_pytorch returns): (10 + 9 + 0.2)/3, (0 + 1 + 0)/3 ; (0.5, 5.5)
    assert got == {(round(19.2 / 3, 4), round(1 / 3, 4)), (0.5, 5.5)}
    # fewer points than clusters: one cluster per point; none: empty
    labels, centers = kmeans_cosine(x[:3], 12)
    assert centers.shape == (3, 2) and sorted(labels.tolist()) == [0, 1, 2]
    labels, centers = kmeans_cosine(torch.zeros(0, 2), 12)
    assert centers.shape == (0, 2) and labels.numel() == 0


def test_kmeans_is_seeded():
    x = torch.randn(200, 8, generator=torch.Generator().manual_seed(3))
    a = kmeans_cosine(x, 5, seed=7)
    b = kmeans_cosine(x, 5, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_cluster_means():
    x = _t([[1., 2.], [3., 4.], [5., 6.]])
    out = cluster_means(x, torch.tensor([1, 1, 0]), 3)
    assert out.tolist() == [[5., 6.], [2., 3.], [0., 0.]]


def test_coco_sampling_is_the_official_draw():
    rng = np.random.RandomState(0)
    labels = rng.rand(40, 5) > 0.6
    labels[:, 4] = False  # a class without images
    labels[3, 4] = False
    got = sample_images_per_class(labels, 100, 666)
    # step_coco/make_lpcam.py::split_100, with its global seeding
    np.random.seed(666)
    for c in range(4):
        having = np.nonzero(labels[:, c])[0]
        assert np.array_equal(got[c], np.random.choice(having, 100))
    assert (got[4] == -1).all()
    # with replacement: 100 draws from fewer images repeat some
    assert len(set(got[0].tolist())) < 100


# ------------------------------------------------------------------ multi-scale
def _official_highres(features, cluster_centers, cluster_context, size):
    """step/make_lpcam.py::make_lpcam for one class, transcribed (F.cosine_similarity
    per centre on repeated tensors, mean, context ReLU, strided-up resize + crop,
    mean over scales, / max)."""
    highres = []
    up = (int(math.ceil(size[0] / 16)) * 16, int(math.ceil(size[1] / 16)) * 16)
    for feature in features:
        d, h, w = feature.shape
        here = feature.permute(1, 2, 0).reshape(h, w, d)
        att = torch.mean(
            torch.cat([
                F.cosine_similarity(here, c.repeat(h, w, 1), 2)[None, None] for c in cluster_centers
            ], 0),
            0,
            keepdim=True)
        if cluster_context.shape[0] > 0:
            ctx = torch.mean(
                torch.cat([
                    F.cosine_similarity(here, c.repeat(h, w, 1), 2)[None, None, None]
                    for c in cluster_context
                ], 0), 0)
            att = F.relu(att - ctx)
        highres.append(
            F.interpolate(att, up, mode='bilinear', align_corners=False)[:, 0, :size[0], :size[1]])
    highres = torch.mean(torch.cat(highres, 0), 0)
    return highres / torch.max(highres)


def test_multi_scale_matches_the_official_loop():
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 6, 3, stride=4, padding=1)
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))

    def feat_fn(x):
        return conv(x)

    img = torch.randn(1, 3, 37, 53, generator=gen)  # not a multiple of the stride
    scales = (1.0, 0.5, 1.5)
    protos = {
        3: (torch.randn(2, 6, generator=gen), torch.randn(3, 6, generator=gen)),
        0: (torch.randn(4, 6, generator=gen), torch.zeros(0, 6)),
    }
    with torch.no_grad():
        out = lpcam_multi_scale(
            feat_fn, img, protos, scales=scales, input_resize='scale_factor', out_stride=16)
        feats = []
        for s in scales:
            x = rescale_inputs(img, s, 'scale_factor')
            f = feat_fn(torch.cat([x, x.flip(-1)], 0))
            feats.append(f[0] + f[1].flip(-1))
        for row, (p, q) in enumerate(protos.values()):
            ref = _official_highres(feats, p, q, (37, 53))
            assert torch.allclose(out[row], ref, atol=1e-5), row
    assert out.shape == (2, 37, 53)
    # 'sum' over scales gives the same maps after the max normalisation (the COCO code)
    with torch.no_grad():
        summed = lpcam_multi_scale(
            feat_fn, img, protos, scales=scales, input_resize='scale_factor', scale_merge='sum')
    assert torch.allclose(out, summed, atol=1e-6)


def test_multi_scale_input_checks():
    with pytest.raises(ValueError, match='one image'):
        lpcam_multi_scale(lambda x: x, torch.zeros(2, 3, 8, 8), {})
    assert lpcam_multi_scale(lambda x: x, torch.zeros(1, 3, 8, 8), {}).shape == (0, 8, 8)
