"""SampleFieldSource: offline labels / masks of the data samples as ctx.pseudo maps."""
import pytest
import torch
from mmengine.structures import PixelData

from mmwsss.models.label_sources import SampleFieldSource
from mmwsss.structures import TrainContext, WSSSDataSample


def _ctx(samples, size=(3, 4)):
    return TrainContext(
        inputs=torch.zeros(len(samples), 3, *size),
        img=torch.zeros(len(samples), 3, *size, dtype=torch.uint8),
        img_labels=torch.ones(len(samples), 2),
        data_samples=samples)


def test_stacks_pads_and_defaults():
    a, b = WSSSDataSample(), WSSSDataSample()
    a.gt_conf_mask = PixelData(data=torch.ones(1, 3, 4, dtype=torch.long))
    b.gt_conf_mask = PixelData(data=torch.ones(1, 2, 3, dtype=torch.long))
    out = SampleFieldSource('gt_conf_mask', pad_value=0)(_ctx([a, b]))
    assert out.shape == (2, 3, 4) and out.dtype == torch.long
    assert int(out[1].sum()) == 6 and out[1, 2].eq(0).all() and out[1, :, 3].eq(0).all()
    with pytest.raises(ValueError, match='2x3'):
        SampleFieldSource('gt_conf_mask')(_ctx([a, b]))
    out = SampleFieldSource('gt_boundary', dtype='float', default=0.0)(_ctx([a, b]))
    assert out.dtype == torch.float32 and not out.any()
    with pytest.raises(KeyError, match='gt_boundary'):
        SampleFieldSource('gt_boundary')(_ctx([a]))
