"""The cross-method benchmark: every method config tagged for it, run through its whole
recipe (:mod:`mmwsss.apis.pipeline`) on one data root, one row each.

A model entry of a method's ``metafile.yaml`` joins the benchmark by declaring the tag
in its metadata (the zoo's schema, :mod:`mmwsss.utils.model_zoo`), so that methods added
later appear without touching this module::

    Models:
      - Name: cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320
        Config: configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py
        Metadata:
          Benchmark: [coco-mini]

Rows are independent: a row whose recipe fails records its error and the others go
on; every row resumes through the pipeline's per-step records.
"""
import os.path as osp
import traceback
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from mmwsss.utils.io import atomic_write_json, atomic_write_text
from .pipeline import (SUMMARY_COLUMNS, PipelineError, PipelineRunner, recipe_steps, summarize,
                       write_summary)

#: row columns of the markdown table after the method and its config.
TABLE_COLUMNS = SUMMARY_COLUMNS


def benchmark_entries(tag: str, root: Optional[str] = None) -> List[dict]:
    """The models of the zoo (``root/model-index.yml``) whose ``Metadata.Benchmark`` lists
    ``tag``, in the index's order: ``dict(name, config, collection, metadata)``.

    Raises:
        ValueError: a tagged model whose ``Config`` does not exist (the message names the
            model).
    """
    from mmwsss.utils.model_zoo import benchmark_models, repo_root
    root = root or repo_root()
    rows = []
    for model in benchmark_models(tag, root):
        config = model.get('Config')
        path = osp.join(root, config) if config else None
        if not path or not osp.isfile(path):
            raise ValueError(f'model {model.get("Name")} is tagged for the {tag} benchmark but '
                             f'its Config {config!r} does not exist under {root}')
        rows.append(
            dict(
                name=model['Name'],
                config=path,
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
