"""The CAM hooks' shared helpers: dataloader lookup, CAM prediction settings and restore."""
import pytest
from mmengine.config import Config
from torch import nn

from mmwsss.engine.hooks import CAMEvalHook
from mmwsss.engine.hooks.cam_hook_utils import cam_prediction, check_branches, resolve_loader_cfg


class _Fake(nn.Module):
    """The attributes SingleStageWSSS exposes to the hooks."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.predict_source = 'seg'
        self.predict_cam_head = 'final'
        self._head_branch = {'final': 'net', 'aux': 'net'}
        self.cam_cfg = dict(scales=[1.0, 0.5], flip=True, bg_thr=0.15)


def test_cam_prediction_switches_and_restores():
    model = _Fake().train()
    with cam_prediction(model, 'aux', dict(flip=False)) as inner:
        assert inner is model and not model.training
        assert model.predict_source == 'cam' and model.predict_cam_head == 'aux'
        assert model.cam_cfg == dict(scales=[1.0, 0.5], flip=False, bg_thr=0.15)
    assert model.training and model.predict_source == 'seg'
    assert model.predict_cam_head == 'final' and model.cam_cfg['flip'] is True
    # restored on errors too
    with pytest.raises(RuntimeError):
        with cam_prediction(model.eval(), None, dict(scales=[2.0])):
            raise RuntimeError('boom')
    assert not model.training and model.cam_cfg['scales'] == [1.0, 0.5]
    with pytest.raises(ValueError, match='no cam_cfg'):
        with cam_prediction(nn.Conv2d(1, 1, 1), None, dict(flip=False)):
            pass


def test_branches_are_checked():
    check_branches(_Fake(), ['final', 'aux'], 'X')
    with pytest.raises(KeyError, match=r"\['seg'\]"):
        check_branches(_Fake(), ['seg'], 'X')
    with pytest.raises(ValueError, match='no named CAM heads'):
        check_branches(nn.Conv2d(1, 1, 1), ['final'], 'X')
    check_branches(nn.Conv2d(1, 1, 1), None, 'X')


def test_resolve_loader_cfg():
    cfg = Config(dict(pseudo_label_dataloader=dict(batch_size=1, dataset=dict(type='D'))))
    loader = resolve_loader_cfg(cfg, 'pseudo_label', 'H')
    loader['dataset']['type'] = 'changed'  # a copy
    assert cfg.pseudo_label_dataloader.dataset.type == 'D'
    with pytest.raises(KeyError, match='no test_dataloader'):
        resolve_loader_cfg(cfg, 'test', 'H')
    with pytest.raises(ValueError, match='one of'):
        resolve_loader_cfg(cfg, 'nope', 'H')
    assert resolve_loader_cfg(cfg, dict(dataset=dict(type='E')), 'H')['dataset']['type'] == 'E'


def test_eval_hook_tags_and_save_best_key():
    hook = CAMEvalHook(branches=['final', 'aux'], save_best=True)
    assert hook.save_best == 'cam/final/mIoU'
    assert 'cam/aux/bg_thr' in hook.tags()
    assert CAMEvalHook(save_best=True).save_best == 'cam/mIoU'
    assert CAMEvalHook().save_best is None
    with pytest.raises(ValueError):
        CAMEvalHook(rule='max')
    assert CAMEvalHook(bg_thr=0.3).metric_cfg == dict(bg_thr=0.3)
