"""DuPL's label parts: dynamic per-class thresholds, the GMM noise filter (hand-computed)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from mmwsss.models.label_sources import CAMLabelSource, GMMNoiseFilter, gmm_noise_mask
from mmwsss.models.utils.class_thresholds import Threshold, per_image_threshold
from mmwsss.structures import BranchOutput, TrainContext

# train_final_voc.py: high_thres_target
VOC_TARGETS = [
    0.70, 0.70, 0.70, 0.70, 0.55, 0.55, 0.55, 0.55, 0.70, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55,
    0.55, 0.55, 0.70, 0.55
]
# cosine_descent(0.70, targets, n_iter - 2000, 20000 - 2000) on the chassis
DUPL_VOC = dict(type='CosineDescent', begin=2000, end=19999, begin_value=0.7, end_value=VOC_TARGETS)
BOTTLE, BUS, CAT, AEROPLANE = 4, 5, 8, 0  # class indices: bottle/bus -> 0.55, cat/plane -> 0.70


def _labels(*classes_per_image):
    y = torch.zeros(len(classes_per_image), 20)
    for i, cls in enumerate(classes_per_image):
        y[i, list(cls)] = 1
    return y


def _official_cosine_descent(step, num_steps, start=0.70, targets=VOC_TARGETS):
    """DuPL utils/train_helper.py cosine_descent, written out (the reference)."""
    start = np.full(20, start)
    targets = np.asarray(targets)
    if step < 0:
        return start
    if step >= num_steps:
        return targets
    f = step / (num_steps - 1)
    return start + (targets - start) * (1 - np.cos(np.pi * f)) / 2


# ------------------------------------------------------------------ dynamic threshold
def test_dynamic_threshold_at_three_iterations_with_the_per_image_max():
    th = Threshold(DUPL_VOC, reduce='max')
    y = _labels({BOTTLE, CAT}, {BOTTLE, BUS}, {AEROPLANE})
    # before 2000: 0.70 for every class -> 0.70 for every image
    assert th(1000, y).tolist() == pytest.approx([0.7, 0.7, 0.7])
    # after 20000: the targets; image 0 = max(0.55 bottle, 0.70 cat), image 1 = 0.55
    assert th(25000, y).tolist() == pytest.approx([0.7, 0.55, 0.7])
    # middle: t = (11000 - 2000) / 17999, bottle/bus at 0.55 + 0.15 (1 + cos(pi t)) / 2
    t = 9000 / 17999
    mid = 0.55 + 0.15 * (1 + math.cos(math.pi * t)) / 2
    assert mid == pytest.approx(0.625, abs=1e-4)
    assert th(11000, y).tolist() == pytest.approx([0.7, mid, 0.7], abs=1e-6)


def test_dynamic_threshold_matches_the_official_cosine_descent_everywhere():
    th = Threshold(DUPL_VOC)
    y = _labels({BOTTLE, CAT}, {BOTTLE, BUS}, {AEROPLANE}, {BUS})
    for it in (0, 1999, 2000, 2001, 7000, 11000, 19998, 19999, 20000):
        ref = _official_cosine_descent(it - 2000, 18000)
        want = [max(ref[c] for c in np.nonzero(row)[0]) for row in y.numpy()]
        assert th(it, y).tolist() == pytest.approx(want, abs=1e-6), it


def test_per_image_threshold_of_a_number_and_an_image_without_class():
    y = _labels({BOTTLE}, ())
    assert per_image_threshold(0.7, y) == 0.7
    vals = torch.tensor(VOC_TARGETS)
    # no present class: reduce over all classes (DuPL would fail on the empty max)
    assert per_image_threshold(vals, y).tolist() == pytest.approx([0.55, 0.7])
    assert per_image_threshold(vals, y, 'min').tolist() == pytest.approx([0.55, 0.55])
    with pytest.raises(ValueError):
        per_image_threshold(vals[:5], y)


def _ctx(cams, labels, it):
    b, _, h, w = cams.shape
    return TrainContext(
        inputs=torch.zeros(b, 3, h, w),
        img=torch.zeros(b, 3, h, w, dtype=torch.uint8),
        img_labels=labels,
        data_samples=[None] * b,
        iter=it,
        cams={'aux1': cams})


def test_cam_label_source_with_the_dynamic_high_threshold():
    """cam_to_label_dynamic_cls: fg > per-image high, ignore (0.25, high], bg <= 0.25."""
    cams = torch.zeros(2, 20, 1, 4)
    cams[:, BOTTLE, 0] = torch.tensor([0.0, 0.6, 0.65, 1.0])  # min 0, max 1: minmax ~ identity
    y = _labels({BOTTLE, CAT}, {BOTTLE})
    src = CAMLabelSource(cam='aux1', size='cam', bg_thr=0.5, ignore_band=(0.25, DUPL_VOC))
    # iteration 0: high 0.70 for both images
    assert src(_ctx(cams, y, 0)).tolist() == [[[0, 255, 255, 5]], [[0, 255, 255, 5]]]
    # after 20000: image 0 keeps 0.70 (cat present), image 1 drops to 0.55 (bottle only)
    assert src(_ctx(cams, y, 30000)).tolist() == [[[0, 255, 255, 5]], [[0, 5, 5, 5]]]
    # constant thresholds still take the batched path with the same result
    fixed = CAMLabelSource(cam='aux1', size='cam', bg_thr=0.5, ignore_band=(0.25, 0.7))
    assert torch.equal(fixed(_ctx(cams, y, 30000)), src(_ctx(cams, y, 0)))


class _Recorder(nn.Module):

    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, state):
        self.seen = dict(state)
        state['label'] = torch.zeros_like(state['cams'][:, 0], dtype=torch.long)
        return state


def test_refiner_receives_the_per_image_bg_high():
    cams = torch.rand(2, 20, 4, 4)
    y = _labels({BOTTLE, CAT}, {BOTTLE})
    rec = _Recorder()
    src = CAMLabelSource(cam='aux1', refiner=rec, refiner_thr=dict(bg_high=DUPL_VOC))
    src(_ctx(cams, y, 30000))
    assert rec.seen['bg_high'].tolist() == pytest.approx([0.7, 0.55])
    src(_ctx(cams, y, 0))
    assert rec.seen['bg_high'].tolist() == pytest.approx([0.7, 0.7])


def test_par_refiner_uses_a_state_bg_high():
    from mmwsss.models.refiners.par import PARRefiner, refine_cams_with_bg
    torch.manual_seed(0)
    img = torch.randint(0, 256, (2, 3, 8, 10), dtype=torch.uint8)
    cams = torch.rand(2, 3, 8, 10)
    y = torch.tensor([[1., 1., 0.], [0., 1., 1.]])
    ref = PARRefiner(num_iter=2, dilations=(1, 2))
    bg = torch.tensor([0.9, 0.2])
    out = ref(dict(img=img, cams=cams, img_labels=y, bg_high=bg))['label']
    want = refine_cams_with_bg(ref.par, img.float() / 255, cams, y, bg, 0.25, 2)
    assert torch.equal(out, want)


# ------------------------------------------------------------------ GMM noise filter
def _two_clusters():
    """40 x 40 fg label: 1200 pixels with loss in [0.2, 0.4], 400 in [2.9, 3.1]."""
    loss = torch.cat([torch.linspace(0.2, 0.4, 1200), torch.linspace(2.9, 3.1, 400)])
    perm = torch.randperm(1600, generator=torch.Generator().manual_seed(0))
    loss = loss[perm].reshape(40, 40)
    label = torch.full((40, 40), 3, dtype=torch.long)
    return loss, label


def test_gmm_masks_exactly_the_high_loss_cluster():
    loss, label = _two_clusters()
    noisy = gmm_noise_mask(loss, label)
    # means ~0.3 and ~3.0 (gap > 1): every pixel of the high cluster has posterior ~1
    assert torch.equal(noisy, loss > 1.0)
    assert int(noisy.sum()) == 400


def test_gmm_rule_as_the_official_loop():
    """The official fits on fg pixels with loss > 0.1 and thresholds the posterior of
    EVERY pixel, then keeps label != 0: same mask as the fg-only evaluation."""
    from sklearn.mixture import GaussianMixture
    loss, label = _two_clusters()
    label[:5] = 0  # bg rows with high loss: never masked
    loss[:5] = 3.0
    label[5:8] = 255  # ignore rows: CE 0
    loss[5:8] = 0.0
    fg = (label != 0) & (label != 255)
    m = loss[fg]
    gmm = GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0)
    gmm.fit(m[m > 0.1].unsqueeze(-1).numpy())
    assert abs(gmm.means_[0, 0] - gmm.means_[1, 0]) > 1.0
    prob = gmm.predict_proba(loss.view(-1).unsqueeze(-1).numpy())
    want = torch.tensor(prob[:, gmm.means_.argmax()] > 0.95).reshape(40, 40) & (label != 0)
    want &= label != 255
    assert torch.equal(gmm_noise_mask(loss, label), want)
    assert not gmm_noise_mask(loss, label)[:8].any()


def test_gmm_skips_few_pixels_and_close_means():
    loss, label = _two_clusters()
    # <= 1000 fg pixels with loss > 0.1: no fit
    label2 = label.clone()
    label2.view(-1)[1000:] = 0
    assert not gmm_noise_mask(loss, label2).any()
    # two clusters 0.5 apart (< gmm_valid_thre 1.0): nothing is noise
    close = torch.where(loss > 1.0, loss - 2.2, loss)  # 0.7..0.9 vs 0.2..0.4
    assert not gmm_noise_mask(close, label).any()


def test_gmm_noise_filter_source_passes_through_before_its_start():
    torch.manual_seed(0)
    label = torch.full((1, 40, 40), 1, dtype=torch.long)
    logits = torch.zeros(1, 21, 40, 40)
    logits[0, 1] = 4.0
    logits[0, 1, :10] = -4.0  # a quarter of the image strongly disagrees with the label
    logits += 0.1 * torch.randn_like(logits)
    ctx = TrainContext(
        inputs=torch.zeros(1, 3, 40, 40),
        img=torch.zeros(1, 3, 40, 40, dtype=torch.uint8),
        img_labels=_labels({0}),
        data_samples=[None],
        branches={'b1': BranchOutput(feats=None, seg_logits=logits)},
        pseudo={'l1': label})
    filt = GMMNoiseFilter(
        branch='b1', label='l1', schedule=dict(type='StepOn', start=8000, strict=False))
    ctx.iter = 7999
    assert filt(ctx) is label
    ctx.iter = 8000
    out = filt(ctx)
    assert (out[0, :10] == 255).all() and (out[0, 10:] == 1).all()
    assert (label == 1).all()  # the source label is not modified
