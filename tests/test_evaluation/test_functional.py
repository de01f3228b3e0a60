"""Hand-checked numbers for the shared confusion-matrix / IoU code."""
import numpy as np
import pytest
import torch

from mmwsss.evaluation.functional import (DEFAULT_THRESHOLDS, confusion_matrix, format_table,
                                          histogram_to_confusion, iou_from_confusion, nanmean,
                                          precision_recall_from_confusion, segmentation_scores,
                                          sweep_confusion, threshold_histogram)
from mmwsss.models.utils.cam import cam_to_label

# 2x3 toy: GT classes 0 (bg), 1, 2 and one ignore pixel; CAM channel k = class k + 1.
GT = torch.tensor([[0, 1, 1], [2, 2, 255]])
CAMS = torch.tensor([[[0.1, 0.8, 0.3], [0.2, 0.6, 0.9]], [[0.2, 0.1, 0.4], [0.7, 0.5, 0.1]]])
# per pixel (max, argmax + 1): (.2, 2) (.8, 1) (.4, 2) / (.7, 2) (.6, 1) (.9, 1 but GT ignore)


def test_sweep_hand_numbers():
    conf = sweep_confusion(CAMS, GT, [0.3, 0.5])
    # t=0.3: labels [[0,1,2],[2,1,-]]; t=0.5: [[0,1,0],[2,1,-]]
    expected = np.array([[[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0]],
                         [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0]]])
    np.testing.assert_array_equal(conf, expected)
    iou = iou_from_confusion(conf)
    np.testing.assert_allclose(iou, [[1, 1 / 3, 1 / 3], [1 / 2, 1 / 3, 1 / 2]])
    scores = segmentation_scores(conf)
    np.testing.assert_allclose(scores['mIoU'], [5 / 9, 4 / 9])
    precision, recall = precision_recall_from_confusion(conf)
    np.testing.assert_allclose(precision, [[1, 1 / 2, 1 / 2], [1 / 2, 1 / 2, 1]])
    np.testing.assert_allclose(recall, [[1, 1 / 2, 1 / 2], [1, 1 / 2, 1 / 2]])
    np.testing.assert_allclose(scores['aAcc'], [3 / 5, 3 / 5])


def test_sweep_masked_and_tie_is_background():
    # only class 1 present: channel 2 zeroed; pixel (0, 2) has value 0.3 == t -> bg
    conf = sweep_confusion(CAMS, GT, [0.3], img_labels=torch.tensor([1., 0.]))
    np.testing.assert_array_equal(conf[0], [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_allclose(iou_from_confusion(conf)[0], [1 / 3, 1 / 3, 0])


@pytest.mark.parametrize('seed', range(6))
def test_sweep_equals_cam_to_label_per_threshold(seed):
    g = torch.Generator().manual_seed(seed)
    num_fg, h, w = seed % 4 + 1, 13, 17
    # values on a 0.05 grid so that many pixels sit exactly on a threshold
    cams = (torch.rand(num_fg, h, w, generator=g) * 20).round() / 20
    labels = (torch.rand(num_fg, generator=g) > 0.3).float()
    gt = torch.randint(0, num_fg + 1, (h, w), generator=g)
    gt[torch.rand(h, w, generator=g) < 0.1] = 255
    thresholds = [float(t) for t in np.round(np.arange(0, 1.0001, 0.05), 2)]
    swept = sweep_confusion(cams, gt, thresholds, labels)
    for i, t in enumerate(thresholds):
        label = cam_to_label(cams[None], labels[None], bg_thr=t)[0]
        np.testing.assert_array_equal(
            swept[i], confusion_matrix(label, gt, num_fg + 1), err_msg=f'threshold {t}')


def test_histogram_counts_every_valid_pixel_once():
    hist = threshold_histogram(CAMS, GT[None], [0.3, 0.5])
    assert hist.shape == (3, 3, 3)
    assert int(hist.sum()) == 5  # 6 pixels, 1 GT ignore
    assert int(hist[:, :, 0].sum()) == 0
    conf = histogram_to_confusion(hist)
    assert (conf.sum((1, 2)) == 5).all()


def test_confusion_matrix_predicted_ignore_is_not_predicted():
    gt = np.array([[0, 1, 1], [2, 255, 2]])
    pred = np.array([[0, 255, 1], [1, 2, 255]])
    conf = confusion_matrix(pred, gt, 3)
    np.testing.assert_array_equal(conf, [[1, 0, 0, 0], [0, 1, 0, 1], [0, 1, 0, 1]])
    precision, recall = precision_recall_from_confusion(conf)
    # class 1: TP 1, predicted twice (ignore column excluded), GT 2 (ignore counted)
    np.testing.assert_allclose(precision, [1, 1 / 2, np.nan])
    np.testing.assert_allclose(recall, [1, 1 / 2, 0])
    # class 2: no TP, union = 2 GT pixels -> IoU 0, not nan
    np.testing.assert_allclose(iou_from_confusion(conf), [1, 1 / 3, 0])
    np.testing.assert_allclose(segmentation_scores(conf)['aAcc'], 2 / 5)


def test_nan_for_class_absent_everywhere():
    gt = np.array([[0, 1], [1, 0]])
    pred = np.array([[0, 1], [3, 0]])
    iou = iou_from_confusion(confusion_matrix(pred, gt, 4))
    # class 2: nowhere -> nan (excluded); class 3: predicted only -> 0 (kept)
    np.testing.assert_allclose(iou, [1, 1 / 2, np.nan, 0])
    assert segmentation_scores(confusion_matrix(pred, gt, 4))['mIoU'] == pytest.approx(0.5)
    assert np.isnan(nanmean(np.array([np.nan, np.nan])))


def test_square_matrix_accepted():
    conf = np.array([[2, 1], [0, 1]])
    np.testing.assert_allclose(iou_from_confusion(conf), [2 / 3, 1 / 2])


def test_errors():
    with pytest.raises(ValueError, match=r'class indices \[5\]'):
        confusion_matrix(np.array([[5]]), np.array([[0]]), 3, name='x.png')
    with pytest.raises(ValueError, match='x.png: ground truth'):
        confusion_matrix(np.array([[0]]), np.array([[7]]), 3, name='x.png')
    with pytest.raises(ValueError, match='does not match'):
        confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int), 3)
    with pytest.raises(TypeError, match='integer'):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 2), int), 3)
    with pytest.raises(ValueError, match='strictly increasing'):
        threshold_histogram(CAMS, GT, [0.5, 0.3])
    with pytest.raises(ValueError, match='does not match ground-truth'):
        threshold_histogram(CAMS, GT[:, :2], [0.3])
    with pytest.raises(ValueError, match='outside'):
        threshold_histogram(CAMS, torch.full((2, 3), 3), [0.3])


def test_default_thresholds_and_table():
    assert DEFAULT_THRESHOLDS[0] == 0.05 and DEFAULT_THRESHOLDS[-1] == 0.95
    assert len(DEFAULT_THRESHOLDS) == 91 and 0.15 in DEFAULT_THRESHOLDS
    scores = segmentation_scores(np.array([[1, 0, 0], [0, 0, 1]]))
    table = format_table(['background', 'cat'], scores)
    assert 'background' in table and '100.00' in table and 'nan' in table


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float64])
def test_sweep_equals_cam_to_label_in_cam_dtype(dtype):
    # thresholds are compared in the CAM dtype, like cam_to_label's `value <= t`
    g = torch.Generator().manual_seed(1)
    cams = ((torch.rand(3, 9, 11, generator=g) * 20).round() / 20).to(dtype)
    gt = torch.randint(0, 4, (9, 11), generator=g)
    thresholds = [float(t) for t in np.round(np.arange(0, 1.0001, 0.05), 2)]
    swept = sweep_confusion(cams, gt, thresholds)
    for i, t in enumerate(thresholds):
        label = cam_to_label(cams[None], bg_thr=t)[0]
        np.testing.assert_array_equal(swept[i], confusion_matrix(label, gt, 4))
