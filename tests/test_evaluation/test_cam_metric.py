"""CAMMetric on hand-computed toys (see test_functional.py for the pixel table)."""
import json
import pickle

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmwsss.evaluation import CAMMetric
from mmwsss.registry import METRICS
from mmwsss.structures import WSSSDataSample

GT = torch.tensor([[0, 1, 1], [2, 2, 255]])
CAMS = torch.tensor([[[0.1, 0.8, 0.3], [0.2, 0.6, 0.9]], [[0.2, 0.1, 0.4], [0.7, 0.5, 0.1]]])
CLASSES = ('background', 'cat', 'dog')


def make_sample(cams=CAMS, gt=GT, pred=None, img_labels=None, as_dict=True):
    sample = WSSSDataSample(metainfo=dict(img_path='toy.jpg'))
    sample.gt_sem_seg = PixelData(data=gt[None])
    if cams is not None:
        sample.cams = PixelData(data=cams)
    if pred is not None:
        sample.pred_sem_seg = PixelData(data=pred[None])
    if img_labels is not None:
        sample.set_metainfo(dict(img_labels=img_labels))
    # mmengine's Evaluator.process hands metrics sample.to_dict()
    return sample.to_dict() if as_dict else sample


def run(metric, samples, meta=dict(classes=CLASSES)):
    metric.dataset_meta = meta
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_registered():
    metric = METRICS.build(dict(type='CAMMetric', thresholds=[0.3, 0.5]))
    assert isinstance(metric, CAMMetric)


@pytest.mark.parametrize('as_dict', [True, False])
def test_sweep_picks_best_threshold(as_dict, tmp_path):
    out = tmp_path / 'sub' / 'cam.json'
    metric = CAMMetric(thresholds=[0.3, 0.5], out_file=str(out))
    res = run(metric, [make_sample(as_dict=as_dict)])
    # t=0.3: IoU (1, 1/3, 1/3) -> 55.56; t=0.5: (1/2, 1/3, 1/2) -> 44.44
    assert res['bg_thr'] == 0.3
    assert res['mIoU'] == 55.56
    assert res['mPrecision'] == 66.67 and res['mRecall'] == 66.67
    assert res['aAcc'] == 60.0
    dump = json.loads(out.read_text())
    assert dump['bg_thr'] == 0.3 and dump['num_images'] == 1
    assert [c['bg_thr'] for c in dump['curve']] == [0.3, 0.5]
    assert [c['mIoU'] for c in dump['curve']] == pytest.approx([500 / 9, 400 / 9], abs=1e-4)
    assert dump['per_class']['cat'] == pytest.approx(
        dict(IoU=100 / 3, Precision=50.0, Recall=50.0), abs=1e-4)
    assert dump['classes'] == list(CLASSES)


def test_best_threshold_moves_with_the_data():
    # raise the bg pixel's CAM to 0.45: 0.3 now mislabels it, 0.5 does not
    cams = CAMS.clone()
    cams[1, 0, 0] = 0.45
    res = run(CAMMetric(thresholds=[0.3, 0.5]), [make_sample(cams=cams)])
    # t=0.3: bg IoU 0 (TP 0, union 1), cat 1/3, dog 1/4 -> 19.44
    # t=0.5: labels [[0,1,0],[2,1]] as before -> 44.44
    assert res['bg_thr'] == 0.5 and res['mIoU'] == 44.44


def test_fixed_threshold_and_two_images_accumulate():
    res = run(CAMMetric(bg_thr=0.5), [make_sample(), make_sample()])
    assert res['bg_thr'] == 0.5 and res['mIoU'] == 44.44  # counts double, ratios equal
    # image 2 = all background GT, CAM everywhere 0 -> adds 6 TP bg pixels at any t
    gt2 = torch.zeros(2, 3, dtype=torch.long)
    res = run(
        CAMMetric(bg_thr=0.5),
        [make_sample(), make_sample(cams=torch.zeros(2, 2, 3), gt=gt2)])
    # bg: TP 7, GT 7, pred 8 -> 7/8; cat 1/3; dog 1/2
    assert res['mIoU'] == round(100 * (7 / 8 + 1 / 3 + 1 / 2) / 3, 2)


def test_metainfo_img_labels_mask_again():
    res = run(CAMMetric(bg_thr=0.3), [make_sample(img_labels=[0])])
    # dog channel zeroed: IoU (1/3, 1/3, 0)
    assert res['mIoU'] == round(100 * 2 / 9, 2)


def test_ignore_band():
    res = run(CAMMetric(ignore_band=(0.3, 0.65)), [make_sample()])
    # labels [[0,1,255],[2,255,1]]: IoU (1, 1/2, 1/2), precision 1, recall (1, 1/2, 1/2)
    assert res['mIoU'] == 66.67 and res['mPrecision'] == 100.0
    assert res['mRecall'] == 66.67 and res['aAcc'] == 60.0
    assert res['ignore_ratio'] == 33.33  # 2 of 6 pixels
    assert 'bg_thr' not in res


def test_pred_sem_seg_labels():
    pred = torch.tensor([[0, 1, 255], [2, 1, 0]])
    res = run(CAMMetric(), [make_sample(cams=None, pred=pred)])
    # (0,2) GT cat predicted ignore: bg 1, cat 1/(2+2-1), dog 1/(2+1-1)
    assert res['mIoU'] == round(100 * (1 + 1 / 3 + 1 / 2) / 3, 2) == 61.11
    assert res['mRecall'] == round(100 * (1 + 1 / 2 + 1 / 2) / 3, 2)
    assert res['ignore_ratio'] == 16.67  # 1 of 6 pixels


def test_source_selects_labels_over_cams():
    pred = torch.tensor([[0, 1, 255], [2, 1, 0]])
    both = make_sample(pred=pred)
    assert run(CAMMetric(bg_thr=0.3), [both])['mIoU'] == 55.56  # auto: cams win
    assert run(CAMMetric(source='pred_sem_seg'), [both])['mIoU'] == 61.11
    with pytest.raises(KeyError, match="no 'cams'"):
        run(CAMMetric(source='cams'), [make_sample(cams=None, pred=pred)])
    with pytest.raises(ValueError, match='source must be'):
        CAMMetric(source='labels')


def test_nan_class_excluded(tmp_path):
    out = tmp_path / 'cam.json'
    cams = torch.cat([CAMS, torch.zeros(1, 2, 3)])  # class 3 never in GT nor predicted
    res = run(
        CAMMetric(bg_thr=0.3, out_file=str(out)), [make_sample(cams=cams)],
        meta=dict(classes=CLASSES + ('bird', )))
    assert res['mIoU'] == 55.56  # mean over the 3 other classes
    dump = json.loads(out.read_text())
    assert dump['per_class']['bird'] == dict(IoU=None, Precision=None, Recall=None)
    assert len(dump['curve']) == 1


def test_results_are_small_and_rank_merge_is_exact():
    many = [
        make_sample(cams=torch.rand(80, 40, 50), gt=torch.randint(0, 81, (40, 50)))
        for _ in range(4)
    ]
    metric = CAMMetric()
    metric.dataset_meta = dict(classes=[str(i) for i in range(81)])
    metric.process({}, many)
    res = metric.results
    assert all(r['idx'].size <= 2000 and r['idx'].dtype == np.int64 for r in res)
    pickle.dumps(res)  # what collect_results sends between ranks
    # two "ranks" holding halves give the same numbers as one
    whole = metric.compute_metrics(res)
    assert metric.compute_metrics(res[2:] + res[:2]) == whole


def test_errors():
    with pytest.raises(ValueError, match='3 classes expected'):
        run(CAMMetric(), [make_sample(cams=torch.rand(3, 2, 3))])
    with pytest.raises(ValueError, match='toy.jpg: CAM size'):
        run(CAMMetric(), [make_sample(cams=torch.rand(2, 2, 2))])
    with pytest.raises(KeyError, match='neither'):
        run(CAMMetric(), [make_sample(cams=None)])
    with pytest.raises(ValueError, match='both CAM samples and label samples'):
        run(CAMMetric(), [make_sample(), make_sample(cams=None, pred=GT.clamp(max=2))])
    with pytest.raises(ValueError, match='at most one'):
        CAMMetric(bg_thr=0.2, ignore_band=(0.2, 0.5))
    with pytest.raises(ValueError, match='strictly increasing'):
        CAMMetric(thresholds=[0.5, 0.5])
    with pytest.raises(ValueError, match='img_labels'):
        run(CAMMetric(), [make_sample(img_labels=[5])])


def test_through_mmengine_evaluator_with_gt_img_label():
    from mmengine.evaluator import Evaluator
    sample = make_sample(as_dict=False)
    sample.gt_img_label = torch.tensor([1., 0.])  # no metainfo img_labels: fallback
    evaluator = Evaluator([dict(type='mmwsss.CAMMetric', thresholds=[0.1, 0.3], prefix='cam')])
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(data_samples=[sample], data_batch={})
    res = evaluator.evaluate(1)
    # dog masked; t=0.1: labels [[0,1,1],[1,1]] -> IoU (1, 2/4, 0) -> 50
    #             t=0.3: labels [[0,1,0],[0,1]] -> IoU (1/3, 1/3, 0) -> 22.22
    assert res == {
        'cam/mIoU': 50.0,
        'cam/mPrecision': 75.0,
        'cam/mRecall': 66.67,
        'cam/aAcc': 60.0,
        'cam/bg_thr': 0.1
    }


# --- issue 9 ------------------------------------------------------------------------------
def test_nonfinite_cams_named():
    from mmwsss.utils.checks import NonFiniteError
    inf = CAMS.clone()
    inf[0, 0, 0] = float('inf')
    with pytest.raises(NonFiniteError, match=r'image toy\.jpg: cams contain inf values'):
        run(CAMMetric(), [make_sample(cams=inf)])
    nan = CAMS.clone()
    nan[1, 1, 1] = float('nan')
    with pytest.raises(NonFiniteError, match=r'image toy\.jpg: cams contain NaN values'):
        run(CAMMetric(bg_thr=0.3), [make_sample(cams=nan)])


def _sample_at(path, cams=CAMS, gt=GT, pred=None):
    sample = make_sample(cams=cams, gt=gt, pred=pred, as_dict=False)
    sample.set_metainfo(dict(img_path=path))
    return sample.to_dict()


@pytest.mark.parametrize('mode', ['sweep', 'fixed', 'labels'])
def test_output_dir_writes_the_scored_predictions(tmp_path, mode):
    """tools/test.py --out sets output_dir (BaseMetric refused it with a TypeError)."""
    from PIL import Image

    from mmwsss.models.utils.cam import cam_to_label
    out = tmp_path / 'out'
    img_root = str(tmp_path / 'images')
    kwargs = dict(
        sweep=dict(thresholds=[0.3, 0.5]),
        fixed=dict(bg_thr=0.5),
        labels=dict(source='pred_sem_seg'))[mode]
    metric = CAMMetric(output_dir=str(out), **kwargs)
    pred = torch.tensor([[0, 1, 2], [2, 255, 0]])
    samples = [
        _sample_at(f'{img_root}/a/x.jpg', pred=pred),
        _sample_at(f'{img_root}/b/x.jpg', cams=CAMS.flip(-1), pred=pred)
    ]
    res = run(metric, samples, meta=dict(classes=CLASSES, img_root=img_root))
    thr = res.get('bg_thr', 0.5)
    for key, cams in (('a/x', CAMS), ('b/x', CAMS.flip(-1))):
        label = np.array(Image.open(out / f'{key}.png'))
        if mode == 'labels':
            assert label.tolist() == pred.tolist()
            assert not (out / 'cams').exists()
        else:
            # exactly cam_to_label at the (best) threshold, i.e. what was scored
            assert label.tolist() == cam_to_label(cams[None], bg_thr=thr)[0].tolist()
            npz = np.load(out / 'cams' / f'{key}.npz')
            assert npz['keys'].tolist() == [0, 1]
            assert np.array_equal(npz['cams'], cams.numpy())
