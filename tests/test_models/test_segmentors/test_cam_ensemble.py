"""CAMEnsemble: fused seeds of separately trained models, each loaded strictly."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg
from mmwsss.utils.checkpoint_compat import CheckpointMismatchError

C = 3


def _member_cfg(seed_offset: int) -> dict:
    return dict(
        type='SingleStageWSSS',
        data_preprocessor=dict(
            type='WSSSDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.], num_classes=C),
        backbone=tiny_backbone_cfg(out_indices=(3, )),
        cam_heads=dict(
            main=dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=0, num_classes=C)),
        test_cfg=dict(predict_source='cam', cam=dict(scales=(1.0, ), flip=False)))


def _saved_member(tmp_path, name, seed):
    torch.manual_seed(seed)
    model = MODELS.build(_member_cfg(seed))
    model.init_weights()
    path = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return model, path


def _data():
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=C, size=(29, 35))
    return dict(inputs=[i.round().to(torch.uint8) for i in inputs], data_samples=samples)


@pytest.mark.parametrize('fusion,reduce', [('and', torch.minimum), ('or', torch.maximum)])
def test_fused_cams_are_the_members_min_or_max(tmp_path, fusion, reduce):
    init_default_scope('mmwsss')
    a, pa = _saved_member(tmp_path, 'a', 1)
    b, pb = _saved_member(tmp_path, 'b', 2)
    ens = MODELS.build(
        dict(
            type='CAMEnsemble',
            members=[
                dict(config=_member_cfg(0), checkpoint=pa),
                dict(config=_member_cfg(0), checkpoint=pb)
            ],
            fusion=fusion,
            bg_thr=0.3))
    a.eval()
    b.eval()
    data = _data()
    ca = [s.cams.data for s in a.test_step(copy.deepcopy(data))]
    cb = [s.cams.data for s in b.test_step(copy.deepcopy(data))]
    out = ens.test_step(copy.deepcopy(data))
    for i, sample in enumerate(out):
        expected = reduce(ca[i], cb[i])
        assert torch.allclose(sample.cams.data, expected)
        v, c = expected.max(0)
        label = torch.where(v > 0.3, c + 1, torch.zeros_like(c))
        assert torch.equal(sample.pred_sem_seg.data[0], label)
    assert not torch.allclose(ca[0], cb[0])  # two different members


def test_member_checkpoint_must_fit(tmp_path):
    init_default_scope('mmwsss')
    _, pa = _saved_member(tmp_path, 'a', 1)
    bad = str(tmp_path / 'bad.pth')
    state = torch.load(pa)['state_dict']
    state.pop(next(iter(state)))
    torch.save(dict(state_dict=state), bad)
    with pytest.raises(CheckpointMismatchError, match='missing keys'):
        MODELS.build(
            dict(
                type='CAMEnsemble',
                members=[
                    dict(config=_member_cfg(0), checkpoint=pa),
                    dict(config=_member_cfg(0), checkpoint=bad)
                ]))
    with pytest.raises(KeyError, match="member 1 needs 'checkpoint'"):
        MODELS.build(
            dict(
                type='CAMEnsemble',
                members=[dict(config=_member_cfg(0), checkpoint=pa),
                         dict(config=_member_cfg(0))]))
    with pytest.raises(ValueError, match='fusion must be one of'):
        MODELS.build(dict(type='CAMEnsemble', members=[], fusion='xor'))
