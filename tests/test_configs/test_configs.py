"""Every config under configs/ parses and its model builds (pretrained weights removed)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401
from mmwsss.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _strip_pretrained(cfg):
    if isinstance(cfg, dict):
        cfg.pop('pretrained', None)
        for key in ('checkpoint', 'clip_checkpoint'):
            if isinstance(cfg.get(key), str):
                cfg[key] = None  # weights the user supplies: random here
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg.pop('init_cfg')
        for v in list(cfg.values()):
            _strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _strip_pretrained(v)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    assert 'model' in cfg, path
    name = osp.basename(path)
    # {algo}_{components}_{NxbM-schedule}_{dataset-crop}.py
    assert len(name[:-3].split('_')) >= 3, f'config name {name} does not follow the scheme'
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    _strip_pretrained(cfg.model)
    from mmwsss.registry import MODELS
    model = MODELS.build(cfg.model)
    assert model is not None
