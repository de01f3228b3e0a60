"""The summary of a run: the headline row (seed / label / stage-2 numbers, time,
memory) and one row per step, as ``summary.json`` and ``summary.md``."""
import os.path as osp
from dataclasses import asdict
from typing import Dict

from mmwsss.utils.io import atomic_write_json, atomic_write_text
from .recipe import StepRecord

SUMMARY_COLUMNS = ('seed mIoU', 'bg_thr', 'label mIoU', 'label precision', 'label recall',
                   'stage-2 mIoU', 'train s', 'peak MB', 'label img/s')


def summarize(records: Dict[str, StepRecord]) -> dict:
    """The headline numbers of a run (None where a stage does not exist)."""

    def metric(kind_names, key):
        for name in kind_names:
            rec = records.get(name)
            if rec is not None and key in rec.metrics:
                value = rec.metrics[key]
                return round(value, 2) if isinstance(value, float) else value
        return None

    tests = [r for r in records.values() if r.kind == 'test']

    def role(r: StepRecord) -> str:  # records written before roles existed: by the sweep
        return r.role or ('seeds' if 'bg_thr' in r.metrics else 'final')

    seeds = [r.name for r in tests if role(r) == 'seeds']
    finals = [r.name for r in tests if role(r) == 'final']
    evals = [r.name for r in records.values() if r.kind == 'eval_labels']
    labels = [r for r in records.values() if r.kind == 'labels']
    trains = [r for r in records.values() if r.kind == 'train']
    rss = [r.peak_rss_mb for r in records.values() if r.peak_rss_mb is not None]
    img_s = None
    if labels and labels[-1].images and labels[-1].wall_s:
        img_s = round(labels[-1].images / labels[-1].wall_s, 2)
    return {
        'seed mIoU':
        metric(seeds[:1], 'mIoU'),
        'bg_thr':
        metric(seeds[:1], 'bg_thr'),
        'label mIoU':
        metric(evals[-1:], 'mIoU'),
        'label precision':
        metric(evals[-1:], 'mPrecision'),
        'label recall':
        metric(evals[-1:], 'mRecall'),
        'stage-2 mIoU':
        metric(finals[-1:], 'mIoU'),
        # unknown when a checkpoint was reused instead of trained here
        'train s':
        round(sum(r.wall_s for r in trains), 1) if trains and all(r.wall_s is not None
                                                                  for r in trains) else None,
        'peak MB':
        max(rss) if rss else None,
        'label img/s':
        img_s,
    }


def _round(value):
    return round(value, 2) if isinstance(value, float) else value


def steps_table(records: Dict[str, StepRecord]) -> str:
    """Markdown table: one row per step."""
    lines = ['| step | kind | wall s | peak MB | result |', '|---|---|---|---|---|']
    for rec in records.values():
        keys = [k for k in ('mIoU', 'bg_thr', 'mPrecision', 'mRecall') if k in rec.metrics]
        result = ', '.join(f'{k} {_round(rec.metrics[k])}' for k in keys)
        if rec.checkpoint:
            result = result or rec.checkpoint
        if rec.label_dir:
            result = f'{rec.images} labels in {rec.label_dir}'
        lines.append(f'| {rec.name} | {rec.kind} | {rec.wall_s} | {rec.peak_rss_mb} | '
                     f'{result} |')
    return '\n'.join(lines)


def write_summary(work_dir: str, config: str, records: Dict[str, StepRecord]) -> dict:
    """``summary.json`` and ``summary.md`` in ``work_dir`` (atomic); returns the JSON."""
    summary = dict(
        config=config, summary=summarize(records), steps={
            k: asdict(v)
            for k, v in records.items()
        })
    atomic_write_json(osp.join(work_dir, 'summary.json'), summary)
    head = summary['summary']
    md = (f'# {osp.basename(config)}\n\n| ' + ' | '.join(SUMMARY_COLUMNS) + ' |\n|' +
          '---|' * len(SUMMARY_COLUMNS) + '\n| ' +
          ' | '.join('—' if head[c] is None else str(head[c])
                     for c in SUMMARY_COLUMNS) + ' |\n\n' + steps_table(records) + '\n')
    atomic_write_text(osp.join(work_dir, 'summary.md'), md)
    return summary
