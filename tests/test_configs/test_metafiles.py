"""Every method folder's metafile.yaml parses as YAML, keeps its notes whole and names
configs that exist.

A YAML plain scalar ends at `` #``: ``Note: issue #18; ...`` silently becomes
``issue`` (or, on a folded line, a parse error), so notes must not carry `` #``.
"""
import glob
import os.path as osp

import pytest
import yaml

from mmwsss.testing.tools import REPO_ROOT

METAFILES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yaml')))


def test_metafiles_found():
    assert len(METAFILES) >= 20


@pytest.mark.parametrize('path', METAFILES, ids=lambda p: osp.basename(osp.dirname(p)))
def test_metafile_parses_and_names_existing_configs(path):
    with open(path) as f:
        text = f.read()
    meta = yaml.safe_load(text)
    assert isinstance(meta, dict) and meta.get('Models'), f'{path}: no Models'
    for line_no, line in enumerate(text.splitlines(), 1):
        body = line.split(':', 1)[1] if ':' in line else line
        # a whole-line comment is fine; ' #' inside a value truncates it
        if not line.lstrip().startswith('#') and ' #' in body:
            pytest.fail(f'{path}:{line_no}: " #" starts a YAML comment inside a value: {line!r}')
    for model in meta['Models']:
        cfg = model.get('Config')
        assert cfg, f'{path}: model {model.get("Name")!r} has no Config'
        assert osp.isfile(osp.join(REPO_ROOT, cfg)), f'{path}: config {cfg} does not exist'
        assert osp.splitext(osp.basename(cfg))[0] == model['Name'], \
            f'{path}: Name {model["Name"]!r} is not the config file name {cfg}'
