"""tools/analysis_tools/benchmark_dense_energy.py: a tiny run, in process and isolated."""
import json
import math

from mmwsss.testing import load_tool

tool = load_tool('tools/analysis_tools/benchmark_dense_energy.py')


def test_case_shapes_and_rules():
    case = tool.make_case(20, 2, 5)
    assert case['images'].shape == (2, 3, 20, 20) and case['logits'].shape == (2, 5, 20, 20)
    assert case['rois'][0].sum() == 16 * 16 and case['rois'][1].all()
    # outside the ROI the label is ignored
    assert (case['label'][0, 0][case['rois'][0] == 0] == 255).all()


def test_rows_report_both_filters_and_extrapolate(tmp_path, capsys):
    out = tmp_path / 'rows.json'
    rows = tool.main([
        '--sizes', '16', '24', '--classes', '3', '--repeat', '1', '--dense-max-size', '16',
        '--no-isolate', '--json',
        str(out)
    ])
    assert [r['size'] for r in rows] == [16, 24]
    small, big = rows
    assert small['dense_extrapolated'] is False and 0 < small['energy_ratio'] < 1
    assert math.isclose(small['energy_rel_diff'], 1 - small['energy_ratio'], rel_tol=1e-9)
    # 24 px -> 144 pixels vs 64: dense time extrapolated by (144 / 64)^2
    assert big['dense_extrapolated'] is True and big['dense_energy'] is None
    assert 'energy_ratio' not in big
    assert math.isclose(big['dense_time_s'], small['dense_time_s'] * (144 / 64)**2)
    assert json.loads(out.read_text()) == rows
    assert 'extrapolated' in capsys.readouterr().out


def test_isolated_child_runs():
    import argparse
    args = argparse.Namespace(no_isolate=False, batch=1, classes=2, device='cpu')
    res = tool.run_isolated(args, 16, 'permutohedral', 1, None)
    assert res['filter'] == 'permutohedral' and res['pixels'] == 64 and res['energy'] < 0
