"""AffinityRandomWalk (PSA inference) and PSAAffinityLabel (offline labels)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmwsss.models.refiners.affinity_rw import (AffinityRandomWalk, PSAAffinityLabel,
                                                psa_infer_aff_reference)
from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, tiny_backbone_cfg

init_default_scope('mmwsss')


def _two_region_state():
    """64 x 64 image -> 8 x 8 stride-8 map; features split the map into a
    left and a right half (|f_l - f_r| = 10, affinity exp(-10) ~ 0). Class 1's
    CAM covers 3 of the 4 left cell columns."""
    feats = torch.zeros(1, 1, 8, 8)
    feats[..., 4:] = 10.
    cams = torch.zeros(1, 2, 64, 64)
    cams[0, 0, :, :24] = 1.
    return dict(
        img=torch.zeros(1, 3, 64, 64, dtype=torch.uint8),
        cams=cams,
        img_labels=torch.tensor([[1., 0.]]),
        aff_feats=feats)


@pytest.mark.parametrize('mode', ['local', 'dense'])
def test_walk_fills_the_region(mode):
    # every pair: on an 8 x 8 map PSA's cropped source region (cols 4..3) is empty
    out = AffinityRandomWalk(mode=mode, psa_border_pairs=False)(_two_region_state())
    label = out['label'][0]
    # before the walk cell column 3 (pixels 24..31) is background (bg = 1 there);
    # the walk averages the left half: fg ~ 3/4 > bg ~ 1/4 everywhere in it
    assert (label[:, :28] == 1).all()
    assert (label[:, 36:] == 0).all()
    scores = out['scores'][0]
    assert scores.shape == (3, 64, 64)
    left = scores[1, :, :24]
    assert torch.allclose(left, left.mean().expand_as(left), atol=1e-3)  # converged
    assert 0.6 < left.mean() < 0.9
    assert torch.all(scores[2] == 0)  # absent class stays zero
    # fg + bg is conserved by the averaging walk (both start summing to 1)
    assert torch.allclose(scores[:2].sum(0), torch.ones(64, 64), atol=1e-4)


def test_all_background_stays_background():
    state = _two_region_state()
    state['cams'] = torch.zeros(1, 2, 64, 64)
    out = AffinityRandomWalk()(state)
    assert torch.isfinite(out['scores']).all()
    assert (out['label'] == 0).all()


def test_bad_inputs_raise():
    state = _two_region_state()
    state['cams'][0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        AffinityRandomWalk()(state)
    state = _two_region_state()
    state['aff_feats'][0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        AffinityRandomWalk()(state)
    state = _two_region_state()
    state['aff_feats'] = torch.zeros(1, 1, 7, 8)
    with pytest.raises(ValueError, match='size'):
        AffinityRandomWalk()(state)
    state = _two_region_state()
    del state['aff_feats']
    with pytest.raises(KeyError, match='aff_feats'):
        AffinityRandomWalk()(state)
    with pytest.raises(ValueError, match='mode'):
        AffinityRandomWalk(mode='fast')


def _tiny_affinity_net():
    cfg = dict(
        type='AffinityNet',
        num_classes=2,
        backbone=tiny_backbone_cfg(out_indices=(1, 2, 3)),
        aff_head=dict(type='AffinityHead', in_channels=TINY_CHANNELS[1:], channels=(4, 4, 8)))
    torch.manual_seed(0)
    net = MODELS.build(cfg)
    net.init_weights()
    return net


def test_with_a_model_local_equals_dense():
    net = _tiny_affinity_net()
    g = torch.Generator().manual_seed(1)
    img = (torch.rand(1, 3, 60, 76, generator=g) * 255).to(torch.uint8)
    cams = torch.rand(1, 2, 60, 76, generator=g)
    state = dict(img=img, cams=cams, img_labels=torch.tensor([[1., 1.]]))
    for border in (True, False):
        out_local = AffinityRandomWalk(model=net, logt=6, psa_border_pairs=border)(dict(state))
        out_dense = AffinityRandomWalk(
            model=net, logt=6, mode='dense', psa_border_pairs=border)(
                dict(state))
        assert out_local['label'].shape == (1, 60, 76)
        assert torch.allclose(out_local['scores'], out_dense['scores'], atol=1e-4)
        assert torch.equal(out_local['label'], out_dense['label'])
    # PSA's border rule (the default) drops pairs, so it changes the scores
    out_psa = AffinityRandomWalk(model=net, logt=6)(dict(state))
    assert not torch.allclose(out_psa['scores'], out_local['scores'])


def _random_walk_state(seed=0, size=(75, 101), classes=(1., 1., 0.)):
    """CAMs with smooth blobs and random stride-8 features: a 10 x 13 map, not a
    multiple of 8 in pixels (75 x 101), so the zero padding is exercised too."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    feats = torch.randn(1, 4, -(-h // 8), -(-w // 8), generator=g)
    cams = F.interpolate(
        torch.rand(1, len(classes), 4, 5, generator=g),
        size=size,
        mode='bilinear',
        align_corners=False)
    labels = torch.tensor([classes])
    return dict(
        img=torch.zeros(1, 3, h, w, dtype=torch.uint8),
        cams=cams,
        img_labels=labels,
        aff_feats=feats)


def test_default_is_psa_infer_aff():
    """The default refiner equals a dense transcription of PSA's infer_aff.py
    (get_indices_of_pairs: sources only in the cropped region)."""
    state = _random_walk_state()
    present = state['img_labels'][0].nonzero().flatten()
    cams = state['cams'][0, present] * 1.
    ref = psa_infer_aff_reference(state['aff_feats'][0], cams, beta=8, logt=5, alpha=16)
    for mode in ('local', 'dense'):
        out = AffinityRandomWalk(logt=5, mode=mode)(dict(state))
        scores = out['scores'][0]
        assert torch.allclose(
            scores[torch.cat([torch.tensor([0]), present + 1])], ref, atol=1e-5, rtol=1e-4)
        assert torch.all(scores[3] == 0)  # absent class
        full = torch.zeros(4, *ref.shape[1:])
        full[[0, *(present + 1).tolist()]] = ref
        assert torch.equal(out['label'][0], full.argmax(0))
    # every pair within the radius (the paper's wording) is a different walk
    every = AffinityRandomWalk(logt=5, psa_border_pairs=False)(dict(state))['scores'][0]
    assert (every[:3] - ref).abs().max() > 1e-3


def test_psa_label_by_hand_without_crf():
    # la (alpha 4) / ha (alpha 32) backgrounds for cam values v:
    # v=.5: la bg .0625, ha ~0     -> fg both          -> 1
    # v=.3: la bg .2401 < .3       -> la fg            -> 1
    # v=.2: la bg .41 > .2 (bg), ha bg .8^32 ~ 8e-4    -> 255
    # v=.1: la bg .66 (bg),      ha bg .9^32 = .034    -> 255
    # v=.01: la bg .96, ha bg .99^32 = .725 > .01      -> 0
    cams = torch.tensor([0.5, 0.3, 0.2, 0.1, 0.01]).view(1, 1, 1, 5)
    cams = torch.cat([cams, torch.zeros_like(cams)], 1)
    state = dict(
        img=torch.zeros(1, 3, 1, 5, dtype=torch.uint8),
        cams=cams,
        img_labels=torch.tensor([[1., 0.]]))
    out = PSAAffinityLabel(crf=None)(state)
    assert out['label'].tolist() == [[[1, 1, 255, 255, 0]]]
    assert out['scores'] is None


class _RecordingCRF(torch.nn.Module):
    """Stands in for DenseCRF: records the score maps it is given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, state):
        self.calls.append(state['scores'].clone())
        return state


def test_psa_label_calls_the_crf_with_both_powers():
    crf = _RecordingCRF()
    cams = torch.tensor([0.5, 0.2]).view(1, 1, 1, 2)
    state = dict(
        img=torch.zeros(1, 3, 1, 2, dtype=torch.uint8), cams=cams, img_labels=torch.tensor([[1.]]))
    PSAAffinityLabel(crf=crf, alpha_la=4, alpha_ha=24)(state)
    assert len(crf.calls) == 2
    la, ha = crf.calls
    assert la[0, :, 0, 1].tolist() == pytest.approx([0.8**4, 0.2])
    assert ha[0, :, 0, 1].tolist() == pytest.approx([0.8**24, 0.2])
    with pytest.raises(ValueError):
        PSAAffinityLabel(crf=None, alpha_la=32, alpha_ha=4)


def _two_tone_image():
    """40 x 40: a red square (rows/cols 10..29) on grey, and a CAM that covers
    the square's left part strongly and fades out."""
    img = torch.full((1, 3, 40, 40), 120, dtype=torch.uint8)
    img[0, 0, 10:30, 10:30] = 230
    img[0, 1:, 10:30, 10:30] = 30
    cams = torch.zeros(1, 1, 40, 40)
    cams[0, 0, 10:30, 10:24] = 0.9
    cams[0, 0, 10:30, 24:30] = 0.15
    return img, cams


def test_psa_label_with_the_dense_crf():
    pytest.importorskip('pydensecrf')
    img, cams = _two_tone_image()
    out = PSAAffinityLabel()(dict(img=img, cams=cams, img_labels=torch.tensor([[1.]])))
    label = out['label'][0]
    assert set(label.unique().tolist()) <= {0, 1, 255}
    assert (label[12:28, 12:22] == 1).all()  # strong CAM: confident fg
    assert (label[:5, :5] == 0).all()  # far background: confident bg (ha)


def test_model_from_config_and_checkpoint(tmp_path):
    net = _tiny_affinity_net()
    ckpt = tmp_path / 'aff.pth'
    torch.save({'state_dict': net.state_dict()}, ckpt)
    model_cfg = dict(
        type='AffinityNet',
        num_classes=2,
        backbone=tiny_backbone_cfg(out_indices=(1, 2, 3)),
        aff_head=dict(type='AffinityHead', in_channels=list(TINY_CHANNELS[1:]), channels=[4, 4, 8]),
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[1., 2., 3.], std=[4., 5., 6.], bgr_to_rgb=True))
    cfg_file = tmp_path / 'aff_cfg.py'
    cfg_file.write_text(f'model = {model_cfg!r}\n')
    rw = AffinityRandomWalk(model=dict(config=str(cfg_file), checkpoint=str(ckpt)))
    assert not rw.model.training
    assert all(not p.requires_grad for p in rw.model.parameters())
    w = net.aff_head.fuse_conv.weight
    assert torch.equal(rw.model.aff_head.fuse_conv.weight, w)
    # the refiner normalises with the trained model's preprocessor statistics
    assert rw.norm == dict(mean=[1., 2., 3.], std=[4., 5., 6.])
