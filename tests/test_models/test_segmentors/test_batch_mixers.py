"""SingleStageWSSS batch mixers (called before the branches) and BECO's predictor."""
import torch
from mmengine.structures import PixelData
from torch import nn

from mmwsss.models.segmentors import BranchMeanPredictor, SingleStageWSSS
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSBatch, WSSSDataSample


@MODELS.register_module(force=True)
class _ZeroInputsMixer(nn.Module):
    """Test mixer: zero the inputs, record what the model looked like when called."""

    calls = []

    def forward(self, model, inputs, wsss, samples):
        _ZeroInputsMixer.calls.append(inputs.abs().sum().item())
        return torch.zeros_like(inputs), wsss, samples


def _model(mixers):
    backbone = dict(
        type='mmseg.ResNetV1c', depth=18, num_stages=4, out_indices=(3, ), norm_cfg=dict(type='BN'))
    head = dict(
        type='mmseg.FCNHead',
        in_channels=512,
        channels=8,
        num_convs=1,
        num_classes=3,
        in_index=0,
        norm_cfg=dict(type='BN'))
    return SingleStageWSSS(
        branches=dict(
            b1=dict(backbone=backbone, decode_head=head),
            b2=dict(backbone=backbone, decode_head=head)),
        batch_mixers=mixers,
        label_sources=dict(pl=dict(type='SampleFieldSource', field='gt_sem_seg')),
        loss_terms=[dict(type='SegTerm', name='seg', branch='b1', label='pl', loss='bg_fg')],
        test_cfg=dict(predict_source='predictor', predictor=dict(type='BranchMeanPredictor')))


def test_mixers_run_before_the_branches():
    model = _model([dict(type='_ZeroInputsMixer')])
    inputs = torch.rand(2, 3, 32, 32) + 1
    s = [WSSSDataSample() for _ in range(2)]
    for x in s:
        x.gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32, dtype=torch.long))
    wsss = WSSSBatch(img=torch.zeros(2, 3, 32, 32, dtype=torch.uint8), img_labels=torch.ones(2, 2))
    seen = {}

    def hook(module, args, output):
        seen.setdefault('x', args[0].abs().sum().item())

    model.branches['b1'].register_forward_hook(hook)
    losses = model.loss(inputs, s, wsss)
    assert _ZeroInputsMixer.calls[-1] > 0 and seen['x'] == 0  # the branch saw mixed inputs
    assert 'seg.loss_seg' in losses


def test_branch_mean_predictor_averages_and_max_merges():

    class Net(nn.Module):

        def __init__(self, v):
            super().__init__()
            self.v = v

        def extract_feat(self, x):
            return x

        def seg_forward(self, x):
            out = torch.zeros(x.shape[0], 2, x.shape[2] // 4, x.shape[3] // 4)
            out[:, 0] = self.v * x.shape[2]
            return out

    model = type('M', (), {})()
    model.branches = dict(b1=Net(1.0), b2=Net(3.0))
    x = torch.zeros(1, 3, 16, 16)
    out = BranchMeanPredictor()(model, x)
    assert out.shape == (1, 2, 16, 16) and torch.allclose(out[:, 0], torch.full((1, 16, 16), 32.))
    # mean of 1 and 3 = 2, times the input side: scales give 32 (1.0, twice), 16, 24, 40, 48;
    # the pixel-wise max is the 1.5x input's 48
    out = BranchMeanPredictor(scales=(0.5, 0.75, 1.0, 1.25, 1.5))(model, x)
    assert torch.allclose(out[:, 0], torch.full((1, 16, 16), 48.))
