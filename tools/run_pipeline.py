"""Run a method's whole WSSS recipe in one command.

    python tools/run_pipeline.py CONFIG [--data-root DIR] [--work-dir DIR] [--quiet]
        [--force STEP ...] [--dry-run]

The recipe is the config's ``wsss_recipe`` (see :mod:`mmwsss.apis.pipeline`): stage 1
(nothing for training-free methods), CAM seeds with the background-threshold sweep,
pseudo labels through the config's refine chain, their mIoU / precision / recall,
stage 2 on plain mmseg and its val mIoU. Each step runs the repository's own tool
(tools/train.py, test.py, generate_pseudo_labels.py, eval_pseudo_labels.py) in a
subprocess, logs to ``WORK_DIR/<step>/log.txt`` and is skipped when it finished before,
so a killed run resumes where it stopped. The summary goes to ``WORK_DIR/summary.json``
and ``WORK_DIR/summary.md`` and is printed at the end.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.apis.pipeline import (SUMMARY_COLUMNS, PipelineError, PipelineRunner, recipe_steps,
                                  write_summary)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a method config's whole WSSS recipe")
    parser.add_argument('config')
    parser.add_argument('--data-root', help='dataset root for every step (else the configs\')')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/pipeline/<config name>; one folder per step')
    parser.add_argument(
        '--quiet', action='store_true', help="only step lines; the tools' output goes to logs")
    parser.add_argument(
        '--force', nargs='+', default=(), metavar='STEP', help='redo these steps even if done')
    parser.add_argument(
        '--checkpoint',
        nargs='+',
        default=(),
        metavar='STEP=PATH',
        help='use this trained checkpoint for a train step instead of training')
    parser.add_argument('--until', metavar='STEP', help='stop after this step')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=(),
        metavar='KEY=VALUE',
        help='added to every train / test / labels step (after the recipe\'s own), e.g. '
        'model.clip_checkpoint=None')
    parser.add_argument(
        '--dry-run', action='store_true', help='print the steps and their commands, run nothing')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    work_dir = args.work_dir or osp.join('work_dirs', 'pipeline',
                                         osp.splitext(osp.basename(args.config))[0])
    tools_dir = osp.dirname(osp.abspath(__file__))
    try:
        steps = recipe_steps(Config.fromfile(args.config), args.config)
        reuse = {}
        for item in args.checkpoint:
            name, sep, path = item.partition('=')
            if not sep:
                raise PipelineError(f'--checkpoint {item!r}: expected STEP=PATH')
            reuse[name] = path
        runner = PipelineRunner(
            steps,
            work_dir,
            args.data_root,
            tools_dir,
            echo=not args.quiet,
            force=args.force,
            reuse=reuse,
            until=args.until,
            cfg_options=args.cfg_options)
        if args.dry_run:
            for step, cmd in runner.dry_run():
                print(f'{step.name} ({step.kind}):\n  ' + ' '.join(cmd))
            return {}
        records = runner.run()
    except PipelineError as e:
        sys.exit(f'error: {e}')
    summary = write_summary(work_dir, args.config, records)
    head = summary['summary']
    print('\n| ' + ' | '.join(SUMMARY_COLUMNS) + ' |')
    print('|' + '---|' * len(SUMMARY_COLUMNS))
    print('| ' + ' | '.join('—' if head[c] is None else str(head[c])
                            for c in SUMMARY_COLUMNS) + ' |')
    print(f'\nsummary: {osp.join(work_dir, "summary.json")}')
    return summary


if __name__ == '__main__':
    main()
