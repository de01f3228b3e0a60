import math

import torch
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample


def test_center_prior_blob_values_and_labels():
    init_default_scope('mmwsss')
    model = MODELS.build(dict(type='CenterPriorCAM', num_classes=3, sigma=0.25, bg_thr=0.5))
    s = WSSSDataSample(metainfo=dict(ori_shape=(2, 2), img_labels=[2]))
    s.gt_img_label = torch.tensor([0., 0., 1.])
    out = model(torch.zeros(1, 3, 2, 2), [s])[0]
    # every pixel is at (+-0.25, +-0.25): d^2 = 0.125 -> exp(-0.125 / 0.125) = e^-1
    assert torch.allclose(out.cams.data[2], torch.full((2, 2), math.exp(-1)))
    assert out.cams.data[:2].abs().sum() == 0
    # e^-1 = 0.37 <= 0.5 -> background everywhere
    assert out.pred_sem_seg.data.unique().tolist() == [0]
    blob = model.blob(3, 3)
    assert blob[1, 1] == 1.0 and blob[0, 0] < blob[0, 1] < blob[1, 1]
