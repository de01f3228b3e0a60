"""RCA's pseudo labels (gen_labels.py::gen_gt): the rules after the CRF, by hand."""
import numpy as np
import pytest

from mmwsss.models.utils import rca_labels
from mmwsss.models.utils.rca_labels import minmax, rca_pseudo_label


@pytest.fixture
def no_crf(monkeypatch):
    # the CRF returns its input scores: the rules after it can be checked by hand
    def fake(img, atts, alpha=4, t=10):
        v = np.stack(list(atts.values()))
        out = {0: np.power(1 - v.max(0), alpha)}
        out.update({k + 1: a for k, a in atts.items()})
        return out

    monkeypatch.setattr(rca_labels, 'rca_crf', fake)


IMG = np.zeros((1, 4, 3), dtype=np.uint8)


def test_minmax():
    assert np.allclose(minmax(np.array([2.0, 4.0, 6.0])), [0, 0.5, 1], atol=1e-7)


def test_with_saliency(no_crf):
    # class 3 map (after min-max): 0, 0.5, 0.95, 1.0; saliency 0, 40, 255, 255
    atts = {3: np.array([[0.0, 0.5, 0.95, 1.0]])}
    sal = np.array([[0, 40, 255, 255]], dtype=np.uint8)
    lab = rca_pseudo_label(IMG, atts, sal, min_valid=0.0)
    # px0: bg 1 vs 0 -> 0 (union 0 < 32); px1: bg 0.84 vs 0.5 -> 0, but saliency 40 >= 32 in
    # the union -> 255; px2, px3: bg 0 vs 0.95 / 1.0 -> class 3 + 1 = 4
    assert lab.tolist() == [[0, 255, 4, 4]]


def test_conflict_and_without_saliency(no_crf):
    atts = {0: np.array([[1.0, 0.0, 0.2, 0.95]]), 1: np.array([[1.0, 0.0, 0.3, 0.0]])}
    lab = rca_pseudo_label(IMG, atts, None, min_valid=0.0)
    # bg = (1 - max)^4: 0, 1, 0.2401, 0.0000
    # px0: classes 0 and 1 both 1.0 > 0.9 -> conflict 255; px1: bg; px2: 0.3 (class 1) -> 2
    # px3: class 0 -> 1
    assert lab.tolist() == [[255, 0, 2, 1]]


def test_small_foreground_ignored(no_crf):
    atts = {0: np.array([[1.0, 0.0, 0.0, 0.0]])}
    # 1 fg pixel of 4 = 25 %: kept at 1 %, all 255 at 30 %
    assert rca_pseudo_label(IMG, atts, None).tolist() == [[1, 0, 0, 0]]
    assert (rca_pseudo_label(IMG, atts, None, min_valid=0.3) == 255).all()
    assert (rca_pseudo_label(IMG, {}, None) == 255).all()  # no map at all


def test_real_crf_runs():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    att = np.zeros((12, 16))
    att[2:9, 3:12] = 1.0
    lab = rca_pseudo_label(img, {5: att}, None)
    assert lab.shape == (12, 16) and set(np.unique(lab)) <= {0, 6, 255}
    assert (lab[4:7, 5:10] == 6).all() and lab[0, 0] == 0
