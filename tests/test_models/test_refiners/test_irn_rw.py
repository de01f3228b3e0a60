"""IRNRandomWalk (IRN inference) and IRLabel (offline IR labels)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmwsss.models.refiners.irn_rw import IRLabel, IRNRandomWalk
from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, tiny_backbone_cfg

init_default_scope('mmwsss')


def _wall_state():
    """16 x 16 image -> 4 x 4 stride-4 map with a boundary wall on map column 2.
    Class 1's CAM is 1 on image columns 0..3 (map column 0)."""
    edge = torch.zeros(1, 1, 4, 4)
    edge[..., 2] = 1.
    cams = torch.zeros(1, 2, 16, 16)
    cams[0, 0, :, :4] = 1.
    return dict(
        img=torch.zeros(1, 3, 16, 16, dtype=torch.uint8),
        cams=cams,
        img_labels=torch.tensor([[1., 0.]]),
        boundary=edge)


@pytest.mark.parametrize('mode', ['local', 'dense'])
def test_walk_stops_at_the_boundary(mode):
    out = IRNRandomWalk(mode=mode)(_wall_state())
    scores, label = out['scores'][0], out['label'][0]
    assert torch.all(scores[0] == 0.25)  # constant bg pad
    assert scores[1].max().item() == pytest.approx(1.0)  # divided by the global max
    assert torch.all(scores[2] == 0)
    # the CAM spread over map columns 0-1 (left of the wall), nothing crossed it
    assert (label[:, :6] == 1).all()
    assert (label[:, 10:] == 0).all()
    assert torch.all(scores[1, :, 12:] == 0)


def test_all_background_is_not_nan():
    state = _wall_state()
    state['cams'] = torch.zeros(1, 2, 16, 16)
    out = IRNRandomWalk()(state)
    assert torch.isfinite(out['scores']).all()
    assert (out['label'] == 0).all()


def test_bad_inputs_raise():
    state = _wall_state()
    state['boundary'][0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        IRNRandomWalk()(state)
    state = _wall_state()
    state['boundary'] = torch.zeros(1, 1, 3, 4)
    with pytest.raises(ValueError, match='size'):
        IRNRandomWalk()(state)
    state = _wall_state()
    state['cams'][0, 1, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        IRNRandomWalk()(state)


class _PoolBoundary(torch.nn.Module):
    """Boundary logits = the R channel average-pooled by 4 (flip-equivariant)."""

    def predict_boundary(self, x):
        return F.avg_pool2d(x[:, :1], 4)


def test_flip_merge_is_aligned():
    # W = 28 is padded to 32: a flip after padding would misalign by one cell
    g = torch.Generator().manual_seed(0)
    img = (torch.rand(1, 3, 20, 28, generator=g) * 255).to(torch.uint8)
    rw = IRNRandomWalk(model=_PoolBoundary(), mean=(0., 0., 0.), std=(1., 1., 1.))
    edge = rw.boundary_map(dict(img=img), (5, 7))
    expected = torch.sigmoid(F.avg_pool2d(img[:, :1].float(), 4))
    assert torch.allclose(edge, expected, atol=1e-5)


def test_with_a_model_local_equals_dense():
    cfg = dict(
        type='IRN',
        backbone=tiny_backbone_cfg(out_indices=(0, 1, 2, 3)),
        irn_head=dict(
            type='IRNHead', in_channels=TINY_CHANNELS, dp_mid=16, dp_channels=(8, 16, 16, 16)))
    torch.manual_seed(0)
    net = MODELS.build(cfg)
    net.init_weights()
    g = torch.Generator().manual_seed(1)
    img = (torch.rand(1, 3, 36, 44, generator=g) * 255).to(torch.uint8)
    cams = torch.rand(1, 2, 36, 44, generator=g)
    state = dict(img=img, cams=cams, img_labels=torch.tensor([[1., 1.]]))
    out_local = IRNRandomWalk(model=net, exp_times=5)(dict(state))
    out_dense = IRNRandomWalk(model=net, exp_times=5, mode='dense')(dict(state))
    assert out_local['label'].shape == (1, 36, 44)
    assert torch.allclose(out_local['scores'], out_dense['scores'], atol=1e-4)
    assert torch.equal(out_local['label'], out_dense['label'])


def test_ir_label_by_hand_without_crf():
    # fg-confident (bg .30): .5 fg, .2 bg, .04 bg; bg-confident (bg .05): .5 fg, .2 fg, .04 bg
    # -> conf = [1, 255 (fg says bg, bg says fg), 0 (both bg)]
    cams = torch.tensor([0.5, 0.2, 0.04]).view(1, 1, 1, 3)
    state = dict(
        img=torch.zeros(1, 3, 1, 3, dtype=torch.uint8),
        cams=torch.cat([cams, torch.zeros_like(cams)], 1),
        img_labels=torch.tensor([[1., 0.]]))
    out = IRLabel(crf=None)(state)
    assert out['label'].tolist() == [[[1, 255, 0]]]
    with pytest.raises(ValueError):
        IRLabel(crf=None, fg_thr=0.05, bg_thr=0.30)


class _RecordingCRF(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, state):
        self.calls.append(state['label'].clone())
        return state


def test_ir_label_feeds_hard_labels_to_the_crf():
    crf = _RecordingCRF()
    cams = torch.tensor([0.5, 0.2, 0.04]).view(1, 1, 1, 3)
    state = dict(
        img=torch.zeros(1, 3, 1, 3, dtype=torch.uint8), cams=cams, img_labels=torch.tensor([[1.]]))
    IRLabel(crf=crf)(state)
    assert [c.tolist() for c in crf.calls] == [[[[1, 0, 0]]], [[[1, 1, 0]]]]


def test_ir_label_with_the_dense_crf():
    pytest.importorskip('pydensecrf')
    img = torch.full((1, 3, 40, 40), 120, dtype=torch.uint8)
    img[0, 0, 10:30, 10:30] = 230
    img[0, 1:, 10:30, 10:30] = 30
    cams = torch.zeros(1, 1, 40, 40)
    cams[0, 0, 10:30, 10:24] = 0.9
    out = IRLabel()(dict(img=img, cams=cams, img_labels=torch.tensor([[1.]])))
    label = out['label'][0]
    assert set(label.unique().tolist()) <= {0, 1, 255}
    assert (label[12:28, 12:22] == 1).all()
    assert (label[:5, :5] == 0).all()
