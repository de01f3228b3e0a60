"""The benchmark plots draw the numbers they are given."""
import cv2
import numpy as np

from mmwsss.visualization.benchmark_plots import plot_per_class_iou, plot_threshold_curves


def test_per_class_bars_follow_the_inputs(tmp_path):
    path = str(tmp_path / 'bars.png')
    drawn = plot_per_class_iou(
        {
            'a': {
                'background': 80.0,
                'cat': 20.0,
                'dog': None
            },
            'b': {
                'background': 60.0,
                'cat': 45.5,
                'dog': 5.0
            }
        },
        path,
        classes=['background', 'cat', 'dog'])
    assert drawn['a'][:2] == [80.0, 20.0] and np.isnan(drawn['a'][2])
    assert drawn['b'] == [60.0, 45.5, 5.0]
    img = cv2.imread(path)
    assert img is not None and img.shape[1] > img.shape[0] > 100


def test_threshold_curves_follow_the_inputs(tmp_path):
    path = str(tmp_path / 'curves.png')
    curve = [dict(bg_thr=0.1, mIoU=20.0), dict(bg_thr=0.2, mIoU=None), dict(bg_thr=0.3, mIoU=31.5)]
    drawn = plot_threshold_curves({'m': curve}, path)
    thr, miou = drawn['m']
    assert thr == [0.1, 0.2, 0.3] and miou[0] == 20.0 and np.isnan(miou[1]) and miou[2] == 31.5
    assert cv2.imread(path) is not None
    # no rows: still a picture saying so
    plot_threshold_curves({}, str(tmp_path / 'empty.png'))
    assert cv2.imread(str(tmp_path / 'empty.png')) is not None
