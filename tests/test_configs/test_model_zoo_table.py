"""docs/en/model_zoo.md is exactly what tools/analysis_tools/model_zoo_table.py makes of the
metafiles, so it cannot go stale: after editing a metafile, run

    python tools/analysis_tools/model_zoo_table.py
"""
import os.path as osp

from mmwsss.testing.tools import REPO_ROOT, load_tool
from mmwsss.utils.model_zoo import load_model_index


def test_committed_model_zoo_page_is_the_generator_output():
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    with open(osp.join(REPO_ROOT, 'docs', 'en', 'model_zoo.md')) as f:
        committed = f.read()
    assert committed == tool.render(REPO_ROOT), (
        'docs/en/model_zoo.md is stale: run python tools/analysis_tools/model_zoo_table.py')


def test_model_zoo_page_lists_every_model_row():
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    text = tool.render(REPO_ROOT)
    published, measured = text.split('## Published numbers')[1].split('## Measured here')
    for meta in load_model_index(REPO_ROOT):
        for model in meta['Models']:
            for res in model['Results']:
                part = published if res['Provenance'] == 'published' else measured
                assert f'[{model["Name"]}](../../{model["Config"]})' in part, model['Name']
                for key, value in res['Metrics'].items():
                    if value is not None:
                        assert f'{key} **{value}**' in part, (model['Name'], key)


def test_committed_model_index_is_the_generator_output():
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        assert f.read() == tool.render_index(REPO_ROOT), (
            'model-index.yml is stale: run python tools/analysis_tools/model_zoo_table.py')


def test_check_mode_detects_a_stale_page(tmp_path):
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    out, index = tmp_path / 'model_zoo.md', tmp_path / 'model-index.yml'
    readme = tmp_path / 'README.md'
    readme.write_text('# x\n\n<!-- model-zoo:start -->\nold\n<!-- model-zoo:end -->\n\nrest\n')
    args = ['--out', str(out), '--index', str(index), '--readme', str(readme)]
    assert tool.main(args) == 0
    assert index.read_text() == tool.render_index(REPO_ROOT)
    assert tool.main(args + ['--check']) == 0
    out.write_text(out.read_text().replace('ToCo', 'TOCO'))
    assert tool.main(args + ['--check']) == 1
    assert tool.main(args) == 0
    index.write_text('Import: []\n')
    assert tool.main(args + ['--check']) == 1
    assert tool.main(args) == 0
    text = readme.read_text()
    assert text.startswith('# x\n\n<!-- model-zoo:start -->\n') and text.endswith(
        '<!-- model-zoo:end -->\n\nrest\n') and 'old' not in text


def test_committed_readme_table_is_the_generator_output():
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        committed = f.read()
    assert committed == tool.update_readme(committed, tool.render_readme_table(REPO_ROOT)), (
        'the README model-zoo table is stale: run python tools/analysis_tools/model_zoo_table.py')


def test_readme_table_rows_take_the_headline_numbers():
    """ToCo's row: its first published VOC train pseudo-label and VOC val numbers, and
    the measured results of its benchmark config (worked out from configs/toco/metafile.yaml)."""
    import yaml
    tool = load_tool('tools/analysis_tools/model_zoo_table.py')
    table = tool.render_readme_table(REPO_ROOT)
    with open(osp.join(REPO_ROOT, 'configs/toco/metafile.yaml')) as f:
        meta = yaml.safe_load(f)
    pub = [r for m in meta['Models'] for r in m['Results'] if r['Provenance'] == 'published']
    seg = next(
        r for r in pub
        if r['Task'] == 'Semantic Segmentation' and r['Dataset'].startswith('Pascal VOC 2012 val'))
    row = next(line for line in table.splitlines() if line.startswith('| [ToCo]'))
    assert f'| {next(iter(seg["Metrics"].values()))}' in row
    assert len(table.splitlines()) == 5 + len(
        [c for m in load_model_index(REPO_ROOT) for c in m['Collections']])
    bad = 'no markers here'
    import pytest
    with pytest.raises(ValueError, match='model-zoo:start'):
        tool.update_readme(bad, table)
