"""Benchmark row discovery from metafiles, the table with a failed row, and the writer."""
import json
import os.path as osp

import pytest

from mmwsss.apis.benchmark import benchmark_entries, benchmark_table, run_row, write_benchmark

CAM = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'


def _zoo(root, metafiles: dict):
    """A repository root with configs/<folder>/metafile.yaml and a model-index.yml."""
    for folder, text in metafiles.items():
        d = root / 'configs' / folder
        d.mkdir(parents=True)
        (d / 'metafile.yaml').write_text(text)
        (d / f'{folder}.py').write_text('x = 1\n')
    (root / 'model-index.yml').write_text('Import:\n' + ''.join(f'- configs/{f}/metafile.yaml\n'
                                                                for f in metafiles))


def test_entries_are_the_tagged_models(tmp_path):
    _zoo(
        tmp_path, {
            'a':
            """Models:
  - Name: a-cpu
    In Collection: A
    Config: configs/a/a.py
    Metadata: {Backbone: EfficientNet-Lite0, lr schd: 300, Benchmark: [coco-mini]}
  - Name: a-full
    Config: configs/a/a.py
    Metadata: {Backbone: R-50}
""",
            'b':
            """Models:
  - Name: b-cpu
    Config: configs/b/b.py
    Metadata: {Benchmark: [voc, coco-mini]}
"""
        })
    entries = benchmark_entries('coco-mini', str(tmp_path))
    assert [e['name'] for e in entries] == ['a-cpu', 'b-cpu']
    assert entries[0]['config'] == str(tmp_path / 'configs' / 'a' / 'a.py')
    assert entries[0]['collection'] == 'A' and entries[0]['metadata']['lr schd'] == 300
    assert [e['name'] for e in benchmark_entries('voc', str(tmp_path))] == ['b-cpu']
    assert benchmark_entries('cityscapes', str(tmp_path)) == []


def test_tagged_entry_without_config_names_the_model(tmp_path):
    _zoo(
        tmp_path, {
            'c':
            """Models:
  - Name: c-cpu
    Config: configs/c/missing.py
    Metadata: {Benchmark: [coco-mini]}
"""
        })
    with pytest.raises(ValueError, match=r"model c-cpu .* 'configs/c/missing.py' does not exist"):
        benchmark_entries('coco-mini', str(tmp_path))


def test_the_repository_tags_rows():
    names = [e['name'] for e in benchmark_entries('coco-mini')]
    assert 'cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320' in names


def test_a_failing_row_keeps_its_error(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('x = 1\n')  # no wsss_recipe
    row = run_row(
        dict(name='bad', config=str(bad), metadata={}), str(tmp_path / 'w'), None, 'tools', print)
    assert row['summary'] is None and row['status'] == 'no recipe'
    assert 'no wsss_recipe' in row['error']
    broken = tmp_path / 'broken.py'
    broken.write_text("wsss_recipe = dict(stage2='configs/nope.py')\n")
    failed = run_row(
        dict(name='broken', config=str(broken), metadata={}), str(tmp_path / 'w2'), None, 'tools',
        print)
    assert failed['status'] == 'failed' and "'configs/nope.py' not found" in failed['error']
    good = dict(
        name='good',
        metadata={
            'Backbone': 'ViT-S/14',
            'lr schd': 10
        },
        error=None,
        status='done',
        summary={
            'seed mIoU': 30.0,
            'bg_thr': 0.4,
            'label mIoU': 28.5,
            'label precision': 40.0,
            'label recall': 50.0,
            'stage-2 mIoU': None,
            'train s': 12.0,
            'peak MB': 800.0,
            'label img/s': 3.5
        },
        per_class={
            'background': 70.0,
            'cat': 10.0
        },
        curve=[dict(bg_thr=0.3, mIoU=25.0),
               dict(bg_thr=0.4, mIoU=30.0)])
    table = benchmark_table([good, row, failed])
    lines = table.splitlines()
    assert lines[2] == ('| `good` | ViT-S/14 | 10 | 30.0 | 0.4 | 28.5 | 40.0 | 50.0 | — | 12.0 '
                        '| 800.0 | 3.5 | done |')
    assert lines[3] == '| `bad` | — | — |' + ' — |' * 9 + ' no recipe |'
    assert lines[4].startswith('| `broken` | — | — |')
    assert "'configs/nope.py' not found |" in lines[4]
    assert lines[4].count('|') == lines[2].count('|')
    paths = write_benchmark([good, row, failed], str(tmp_path / 'out'), 'test', 'notes')
    with open(paths['json']) as f:
        data = json.load(f)
    assert [r['name'] for r in data['rows']] == ['good', 'bad', 'broken']
    assert osp.getsize(paths['per_class']) > 1000 and osp.getsize(paths['curves']) > 1000
    md = open(paths['markdown']).read()
    assert 'per_class_iou.png' in md and table in md


def test_collect_only_reads_finished_steps_and_runs_nothing(tmp_path):
    from dataclasses import asdict

    from mmwsss.apis.pipeline import StepRecord
    from mmwsss.utils.io import atomic_write_json
    cfg = tmp_path / 'cam.py'
    cfg.write_text(f"_base_ = '{osp.abspath(CAM)}'\nwsss_recipe = dict(stage2=None)\n")
    entry = dict(name='cam', config=str(cfg), metadata={})
    work = tmp_path / 'w'
    row = run_row(entry, str(work), None, 'tools', print, collect_only=True)
    assert row['status'] == 'not run' and row['summary'] is None
    atomic_write_json(
        str(work / 'stage1' / 'step.json'),
        asdict(StepRecord('stage1', 'train', str(cfg), wall_s=3.0)))
    atomic_write_json(
        str(work / 'seeds' / 'step.json'),
        asdict(StepRecord('seeds', 'test', str(cfg), metrics=dict(mIoU=12.5, bg_thr=0.3))))
    row = run_row(entry, str(work), None, 'tools', print, collect_only=True)
    assert row['status'] == 'partial' and row['summary']['seed mIoU'] == 12.5
    assert row['summary']['label mIoU'] is None
    assert not (work / 'pseudo_labels').exists()  # nothing ran
