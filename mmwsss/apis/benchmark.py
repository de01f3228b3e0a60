"""The cross-method benchmark: every method config tagged for it, run through its whole
recipe (:mod:`mmwsss.apis.pipeline`) on one data root, one row each.

A model entry of a method's ``metafile.yaml`` joins the benchmark by declaring the tag,
so that methods added later appear without touching this module::

    Models:
      - Name: cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320
        Config: configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py
        Benchmark: [coco-mini]        # a string or a list of tags

Rows are independent: a row whose recipe fails records its error and the others go
on; every row resumes through the pipeline's per-step records.
"""
import glob
import os.path as osp
import traceback
from typing import Callable, Dict, List, Optional, Sequence

import yaml
from mmengine.config import Config

from mmwsss.utils.io import atomic_write_json, atomic_write_text
from .pipeline import (SUMMARY_COLUMNS, PipelineError, PipelineRunner, recipe_steps, summarize,
                       write_summary)

#: row columns of the markdown table after the method and its config.
TABLE_COLUMNS = SUMMARY_COLUMNS


def _tags(value) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def benchmark_entries(tag: str, configs_root: str = 'configs') -> List[dict]:
    """Model entries of every ``configs/*/metafile.yaml`` tagged ``tag``, sorted by
    folder then name: ``dict(name, config, collection, metadata)``.

    The tag may sit on the model (``Benchmark``) or in its ``Metadata``.

    Raises:
        ValueError: a tagged entry without a ``Config``, or whose config is missing
            (the message names the metafile).
    """
    rows = []
    for path in sorted(glob.glob(osp.join(configs_root, '*', 'metafile.y*ml'))):
        with open(path, encoding='utf-8') as f:
            meta = yaml.safe_load(f) or {}
        for model in meta.get('Models') or []:
            tags = _tags(model.get('Benchmark')) + _tags(
                (model.get('Metadata') or {}).get('Benchmark'))
            if tag not in tags:
                continue
            config = model.get('Config')
            if not config or not osp.isfile(config):
                raise ValueError(f'{path}: model {model.get("Name")} is tagged for the '
                                 f'{tag} benchmark but its Config {config!r} does not exist')
            rows.append(
                dict(
                    name=model.get('Name') or osp.splitext(osp.basename(config))[0],
                    config=config,
                    collection=model.get('In Collection'),
                    metadata=model.get('Metadata') or {}))
    return rows


def run_row(entry: dict,
            work_dir: str,
            data_root: Optional[str],
            tools_dir: str,
            progress: Callable[[str], None],
            until: Optional[str] = None,
            collect_only: bool = False) -> dict:
    """One benchmark row: the entry's recipe run to the end (or to step ``until`` where
    the recipe has it), or its error.

    ``status`` is ``'done'``, ``'partial'`` (``collect_only`` found only some steps
    finished), ``'not run'``, ``'no recipe'`` (the config declares no ``wsss_recipe``
    yet) or ``'failed'`` (``error`` says why). ``collect_only`` reads what earlier runs
    left and runs nothing.
    """
    row = dict(
        entry,
        work_dir=work_dir,
        status='done',
        error=None,
        summary=None,
        per_class=None,
        curve=None)
    try:
        cfg = Config.fromfile(entry['config'])
        if cfg.get('wsss_recipe') is None:
            row.update(status='no recipe', error=f'{entry["config"]} declares no wsss_recipe')
            return row
        steps = recipe_steps(cfg, entry['config'])
        if until not in {s.name for s in steps}:
            until = None
        runner = PipelineRunner(
            steps,
            work_dir,
            data_root,
            tools_dir,
            echo=False,
            until=until,
            progress=lambda line: progress(f'[{entry["name"]}] {line}'))
        if collect_only:
            records = runner.finished_records()
            if not records:
                row['status'] = 'not run'
                return row
            if len(records) < len(runner.planned_steps()):
                row['status'] = 'partial'
        else:
            records = runner.run()
            write_summary(work_dir, entry['config'], records)
    except PipelineError as e:
        row.update(status='failed', error=str(e))
        return row
    except Exception as e:  # noqa: BLE001  (a broken row must not stop the others)
        row.update(
            status='failed', error=f'{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}')
        return row
    row['summary'] = summarize(records)
    for rec in records.values():
        if rec.kind == 'eval_labels':
            row['per_class'] = {
                name: scores.get('IoU')
                for name, scores in (rec.metrics.get('per_class') or {}).items()
            }
        if rec.kind == 'test' and 'curve' in rec.metrics and row['curve'] is None:
            row['curve'] = rec.metrics['curve'].get('curve')
    return row


def run_benchmark(entries: Sequence[dict],
                  work_dir: str,
                  data_root: Optional[str],
                  tools_dir: str,
                  progress: Callable[[str], None] = print,
                  until: Optional[str] = None,
                  collect_only: bool = False) -> List[dict]:
    """Run every row (each in ``work_dir/<name>``); a failure is kept in its row."""
    rows = []
    for i, entry in enumerate(entries, 1):
        progress(f'[benchmark] row {i}/{len(entries)}: {entry["name"]}')
        row = run_row(entry, osp.join(work_dir, entry['name']), data_root, tools_dir, progress,
                      until, collect_only)
        if row['status'] == 'failed':
            progress(f'[benchmark] row {entry["name"]} failed: {row["error"].splitlines()[0]}')
        rows.append(row)
    return rows


def _cell(value) -> str:
    return '—' if value is None else str(value)


def benchmark_table(rows: Sequence[dict]) -> str:
    """Markdown table, one row per method config, its status last (with the error of a
    failed row)."""
    head = ['method', 'backbone', 'schedule'] + list(TABLE_COLUMNS) + ['status']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in rows:
        meta = row.get('metadata') or {}
        first = [f'`{row["name"]}`', _cell(meta.get('Backbone')), _cell(meta.get('lr schd'))]
        summary = row.get('summary')
        cells = ['—'] * len(TABLE_COLUMNS) if summary is None else \
            [_cell(summary[c]) for c in TABLE_COLUMNS]
        status = row.get('status') or ('failed' if row.get('error') else 'done')
        if status == 'failed':
            status += ': ' + row['error'].splitlines()[0].replace('|', '/')[:160]
        lines.append('| ' + ' | '.join(first + cells + [status]) + ' |')
    return '\n'.join(lines)


def write_benchmark(rows: Sequence[dict], out_dir: str, title: str, notes: str = '') -> Dict:
    """``benchmark.md`` / ``benchmark.json`` and the plots in ``out_dir``; the paths."""
    from mmwsss.visualization.benchmark_plots import plot_per_class_iou, plot_threshold_curves
    paths = dict(
        markdown=osp.join(out_dir, 'benchmark.md'),
        json=osp.join(out_dir, 'benchmark.json'),
        per_class=osp.join(out_dir, 'per_class_iou.png'),
        curves=osp.join(out_dir, 'bg_threshold_curves.png'))
    ok = [r for r in rows if r.get('summary') is not None]
    plot_per_class_iou({r['name']: r['per_class']
                        for r in ok if r.get('per_class')}, paths['per_class'])
    plot_threshold_curves({r['name']: r['curve'] for r in ok if r.get('curve')}, paths['curves'])
    md = (f'# {title}\n\n{notes}\n\n' + benchmark_table(rows) +
          f'\n\n![per-class IoU of the pseudo labels]({osp.basename(paths["per_class"])})\n\n'
          f'![seed mIoU per background threshold]({osp.basename(paths["curves"])})\n')
    atomic_write_text(paths['markdown'], md)
    atomic_write_json(paths['json'], dict(title=title, rows=list(rows)))
    return paths
