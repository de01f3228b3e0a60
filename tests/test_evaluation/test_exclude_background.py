"""CAMMetric(exclude_background=True): PBIP's histology mIoU (tissue classes only)."""
import torch
from mmengine.structures import PixelData

from mmwsss.evaluation import CAMMetric
from mmwsss.structures import WSSSDataSample

CLASSES = ('background', 'TUM', 'STR')


def _run(metric, gt, pred):
    sample = WSSSDataSample(metainfo=dict(img_path='p.png'))
    sample.gt_sem_seg = PixelData(data=gt[None])
    sample.pred_sem_seg = PixelData(data=pred[None])
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [sample.to_dict()])
    return metric.evaluate(1)


def test_background_kept_in_matrix_but_not_in_mean():
    # PBIP never predicts background: the GT background pixel (0, 0) is predicted TUM
    gt = torch.tensor([[0, 1, 1], [2, 2, 1]])
    pred = torch.tensor([[1, 1, 2], [2, 2, 1]])
    # TUM: tp 2, gt 3, pred 3 -> 2/4; STR: tp 2, gt 2, pred 3 -> 2/3; bg: 0/1
    res = _run(CAMMetric(source='pred_sem_seg', exclude_background=True), gt, pred)
    assert res['mIoU'] == round(100 * (2 / 4 + 2 / 3) / 2, 2) == 58.33
    # precision TUM 2/3, STR 2/3; recall TUM 2/3, STR 1
    assert res['mPrecision'] == round(100 * 2 / 3, 2)
    assert res['mRecall'] == round(100 * (2 / 3 + 1) / 2, 2)
    every = _run(CAMMetric(source='pred_sem_seg'), gt, pred)
    assert every['mIoU'] == round(100 * (0 + 2 / 4 + 2 / 3) / 3, 2)
