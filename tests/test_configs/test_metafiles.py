"""The model zoo: every method folder's metafile.yaml follows the one schema of
mmwsss/utils/model_zoo.py, names configs that exist, and model-index.yml imports them all.

A YAML plain scalar ends at `` #``: ``Note: issue #18; ...`` silently becomes
``issue`` (or, on a folded line, a parse error), so notes must not carry `` #``.
"""
import glob
import os.path as osp

import pytest
import yaml

from mmwsss.testing.tools import REPO_ROOT
from mmwsss.utils.model_zoo import (benchmark_models, load_metafile, metafile_paths,
                                    parse_config_name, validate_metafile)

METAFILES = metafile_paths(REPO_ROOT)
IDS = [osp.basename(osp.dirname(p)) for p in METAFILES]
METHOD_DIRS = sorted(
    d for d in glob.glob(osp.join(REPO_ROOT, 'configs', '*'))
    if osp.isdir(d) and osp.basename(d) != '_base_')


def test_metafiles_found():
    assert len(METAFILES) >= 20


@pytest.mark.parametrize('folder', METHOD_DIRS, ids=osp.basename)
def test_every_method_folder_has_a_metafile(folder):
    assert osp.isfile(osp.join(folder, 'metafile.yaml')), \
        f'{osp.relpath(folder, REPO_ROOT)} has no metafile.yaml (see mmwsss/utils/model_zoo.py)'


@pytest.mark.parametrize('path', METAFILES, ids=IDS)
def test_metafile_has_no_yaml_comment_inside_a_value(path):
    with open(path) as f:
        text = f.read()
    for line_no, line in enumerate(text.splitlines(), 1):
        body = line.split(':', 1)[1] if ':' in line else line
        # a whole-line comment is fine; ' #' inside a value truncates it
        if not line.lstrip().startswith('#') and ' #' in body:
            pytest.fail(f'{path}:{line_no}: " #" starts a YAML comment inside a value: {line!r}')


@pytest.mark.parametrize('path', METAFILES, ids=IDS)
def test_metafile_schema(path):
    errors = validate_metafile(load_metafile(path), REPO_ROOT)
    assert not errors, f'{osp.relpath(path, REPO_ROOT)}:\n  ' + '\n  '.join(errors)


@pytest.mark.parametrize('path', METAFILES, ids=IDS)
def test_metafile_configs_live_in_its_folder_and_metadata_matches_the_name(path):
    folder = osp.relpath(osp.dirname(path), REPO_ROOT)
    for model in load_metafile(path)['Models']:
        assert osp.dirname(model['Config']) == folder, model['Config']
        slots = parse_config_name(model['Name'])
        assert slots is not None, f'{model["Name"]} breaks the config-name scheme'
        meta = model['Metadata']
        if slots['crop'] and slots['crop'] != 'ori':
            h, w = slots['crop'].split('x')
            assert meta['Crop Size'] == f'({h},{w})', model['Name']
        schedule = slots['schedule']
        if schedule is None:
            continue
        assert meta['Batch Size'] == int(slots['gpus']) * int(slots['batch']), \
            f'{model["Name"]}: Batch Size {meta["Batch Size"]} is not N x M of the name'
        lr = meta['lr schd']
        if schedule == 'trainfree':
            assert lr is None, model['Name']
        elif schedule.endswith('i'):
            assert lr == int(schedule[:-1]), model['Name']
        elif schedule.endswith('k'):  # the name rounds to thousands
            assert isinstance(lr, int) and abs(lr - 1000 * int(schedule[:-1])) < 1000, \
                model['Name']
        else:  # epochs: 'N epochs' or the iterations they make
            assert lr == f'{schedule[:-1]} epochs' or isinstance(lr, int), model['Name']


def test_model_names_are_unique_across_the_zoo():
    seen = {}
    for path in METAFILES:
        for model in load_metafile(path)['Models']:
            assert model['Name'] not in seen, \
                f'{model["Name"]} in {path} and {seen[model["Name"]]}'
            seen[model['Name']] = path
    collections = [c['Name'] for p in METAFILES for c in load_metafile(p)['Collections']]
    assert len(collections) == len(set(collections)), collections


def test_model_index_imports_every_metafile():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert list(index) == ['Import']
    imports = index['Import']
    assert len(imports) == len(set(imports))
    for rel in imports:
        assert osp.isfile(osp.join(REPO_ROOT, rel)), f'model-index.yml imports missing {rel}'
    expected = sorted(osp.relpath(p, REPO_ROOT) for p in METAFILES)
    assert sorted(imports) == expected, \
        f'model-index.yml lacks {sorted(set(expected) - set(imports))}'


def test_benchmark_tag_picks_cpu_coco_mini_configs():
    models = benchmark_models('coco-mini', REPO_ROOT)
    assert len(models) >= 20
    for model in models:
        slots = parse_config_name(model['Name'])
        assert slots['dataset'] == 'coco-mini-voc', model['Name']
    # at most one benchmark row per method folder
    folders = [osp.dirname(m['Config']) for m in models]
    assert len(folders) == len(set(folders)), folders


# folders with coco-mini configs that are no method of their own
NOT_BENCHMARKED = {'single_stage': 'the chassis example; it reproduces no paper'}


@pytest.mark.parametrize('path', METAFILES, ids=IDS)
def test_every_method_with_a_coco_mini_config_joins_the_benchmark(path):
    """A method folder with a CPU coco-mini config tags one of them ``Benchmark: [coco-mini]``
    (the config that runs the whole method end to end), so tools/benchmark.py ranks it."""
    folder = osp.basename(osp.dirname(path))
    models = load_metafile(path)['Models']
    if folder in NOT_BENCHMARKED or not any('coco-mini' in m['Name'] for m in models):
        return
    tagged = [m['Name'] for m in models if m['Metadata'].get('Benchmark')]
    assert len(tagged) == 1, f'{folder}: tag exactly one coco-mini config Benchmark: [coco-mini]'


def test_validator_reports_schema_errors():
    """The validator is not vacuous: a broken copy of a real metafile fails it."""
    meta = load_metafile(osp.join(REPO_ROOT, 'configs', 'toco', 'metafile.yaml'))
    assert validate_metafile(meta, REPO_ROOT) == []
    model = meta['Models'][0]
    model['Metadata']['backbone'] = model['Metadata'].pop('Backbone')
    model['Results'][0]['Task'] = 'Segmentation'
    model['Results'][0]['Dataset'] = 'VOC'
    model['Results'][0]['Provenance'] = 'paper'
    model['Results'][0]['Metrics'] = {'miou': '69.2'}
    model['Config'] = 'configs/toco/missing.py'
    meta['Collections'][0]['Paper']['URL'] = 'arxiv 2303.01267'
    errors = '\n'.join(validate_metafile(meta, REPO_ROOT))
    for needle in ("missing ['Backbone']", "unknown keys ['backbone']", "'Segmentation' not in",
                   "'VOC' not in", "'paper' not in", "'miou' is not", 'does not exist',
                   'is not a URL'):
        assert needle in errors, needle
