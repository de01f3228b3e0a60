"""Every config that carries a wsss_recipe (its own or inherited) gives a valid step list:
known kinds and keys, references to earlier steps of the right kind, config files that
exist. tools/run_pipeline.py and tools/benchmark.py would otherwise find out hours in."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmwsss.apis.pipeline import recipe_steps
from mmwsss.testing.tools import REPO_ROOT

RECIPE_FILES = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if 'wsss_recipe' in open(p, encoding='utf-8').read())


def _users():
    """Configs declaring a recipe plus those inheriting from one of them."""
    names = {osp.basename(p) for p in RECIPE_FILES}
    users = list(RECIPE_FILES)
    for p in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py'))):
        text = open(p, encoding='utf-8').read()
        if p not in users and '_base_' in text and any(n in text for n in names):
            users.append(p)
    return [osp.relpath(p, REPO_ROOT) for p in users]


def test_some_configs_declare_recipes():
    assert len(RECIPE_FILES) >= 3


@pytest.mark.parametrize('config', _users())
def test_recipe_is_valid(config, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # recipe paths are relative to the repository root
    cfg = Config.fromfile(config)
    if cfg.get('wsss_recipe') is None:
        # names a recipe config without inheriting its recipe (a seeds or stage-2 config),
        # or opts out of an inherited one on purpose
        text = open(osp.join(REPO_ROOT, config), encoding='utf-8').read()
        assert osp.join(REPO_ROOT, config) not in RECIPE_FILES or 'wsss_recipe = None' in text
        return
    steps = recipe_steps(cfg, config)
    assert steps and len({s.name for s in steps}) == len(steps)
