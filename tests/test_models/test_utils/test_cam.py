import pytest
import torch

from mmwsss.models.utils import add_background, cam_to_label, merge, normalize_cams, scores_to_label


def test_normalize_max_and_minmax():
    cam = torch.tensor([[[[0., 1.], [2., 4.]]]])
    out = normalize_cams(cam, 'max', eps=0.)
    assert torch.allclose(out, torch.tensor([[[[0., .25], [.5, 1.]]]]))
    cam2 = cam + 2  # min 2, max 6 -> (x - 2) / 4
    out = normalize_cams(cam2, 'minmax', eps=0.)
    assert torch.allclose(out, torch.tensor([[[[0., .25], [.5, 1.]]]]))
    # SEAM max_norm: relu(x - min - eps) / (max - min + eps)
    out = normalize_cams(cam2, 'minmax_seam', eps=0.)
    assert torch.allclose(out, torch.tensor([[[[0., .25], [.5, 1.]]]]))
    with pytest.raises(ValueError, match='unknown CAM normalisation'):
        normalize_cams(cam, 'bogus')


def test_merge_rules():
    a, b = torch.tensor([1., 5.]), torch.tensor([3., 2.])
    assert merge([a, b], 'sum').tolist() == [4., 7.]
    assert merge([a, b], 'max').tolist() == [3., 5.]
    assert merge([a, b], 'mean').tolist() == [2., 3.5]
    with pytest.raises(ValueError):
        merge([a, b], 'min')


def _toy():
    # two fg classes on a 1x4 image
    cams = torch.tensor([[[[0.9, 0.6, 0.3, 0.1]], [[0.2, 0.7, 0.2, 0.05]]]])
    return cams


def test_cam_to_label_bg_threshold_and_labels():
    cams = _toy()
    # v = [0.9, 0.7, 0.3, 0.1], argmax = [0, 1, 0, 0] -> labels 1, 2, 1, 1
    assert cam_to_label(cams, bg_thr=0.25).tolist() == [[[1, 2, 1, 0]]]
    # class 2 absent -> masked out: v = [0.9, 0.6, 0.3, 0.1]
    labels = torch.tensor([[1., 0.]])
    assert cam_to_label(cams, labels, bg_thr=0.5).tolist() == [[[1, 1, 0, 0]]]


def test_cam_to_label_ignore_band_and_valid_mask():
    cams = _toy()
    # fg > 0.65, ignore in (0.25, 0.65], bg <= 0.25
    out = cam_to_label(cams, bg_thr=0.5, ignore_band=(0.25, 0.65))
    assert out.tolist() == [[[1, 2, 255, 0]]]
    valid = torch.tensor([[[True, False, True, True]]])
    out = cam_to_label(cams, bg_thr=0.5, valid_mask=valid)
    assert out.tolist() == [[[1, 255, 0, 0]]]


def test_cam_to_label_errors():
    with pytest.raises(ValueError, match='NaN'):
        cam_to_label(torch.full((1, 2, 2, 2), float('nan')))
    with pytest.raises(ValueError, match='does not match'):
        cam_to_label(torch.rand(1, 2, 2, 2), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        cam_to_label(torch.rand(2, 2, 2))


def test_background_and_scores_to_label():
    cams = _toy()
    s = add_background(cams, bg=0.5)
    assert s.shape == (1, 3, 1, 4) and torch.all(s[:, 0] == 0.5)
    # PSA: (1 - max)^2 = [0.01, 0.09, 0.49, 0.81]
    s = add_background(cams, power=2)
    assert torch.allclose(s[0, 0, 0], torch.tensor([0.01, 0.09, 0.49, 0.81]))
    assert scores_to_label(s).tolist() == [[[1, 2, 0, 0]]]
    # class 2 absent: pixel 1 falls to max(bg 0.09, c1 0.6) -> 1
    assert scores_to_label(s, torch.tensor([[1., 0.]])).tolist() == [[[1, 1, 0, 0]]]
    with pytest.raises(ValueError):
        add_background(cams)


def test_normalize_any_leading_dims():
    # (K, H, W) maps are normalised per map, like (B, C, H, W)
    cams = torch.tensor([[[1., 3.]], [[2., 2.]]])  # 2 maps of 1x2
    out = normalize_cams(cams, 'minmax', eps=1e-7)
    assert torch.allclose(out[0].flatten(), torch.tensor([0., 1.]))
    assert out[1].flatten().tolist() == [0., 0.]  # constant map -> 0 (0 / (0 + eps))


def test_labels_with_bg_first_and_last():
    from mmwsss.models.utils.cam import labels_with_bg
    y = torch.tensor([[0., 1., 0.]])
    first = labels_with_bg(y)
    assert first.shape == (1, 4, 1, 1) and first.flatten().tolist() == [1, 0, 1, 0]
    assert labels_with_bg(y, 'last').flatten().tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError, match='bg must be one of'):
        labels_with_bg(y, 'middle')
