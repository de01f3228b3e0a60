"""The cross-method WSSS benchmark: one row per method config tagged for it.

    python tools/benchmark.py --data-root DIR [--tag coco-mini] [--work-dir DIR]
        [--out docs/en/benchmark] [--only NAME ...]

Every model entry of a ``configs/*/metafile.yaml`` whose ``Benchmark`` field holds the
tag is run through its whole recipe (tools/run_pipeline.py's steps: stage 1, seeds with
the threshold sweep, pseudo labels, their mIoU / precision / recall, stage 2, its val
mIoU), each in ``WORK_DIR/<name>``. Rows are independent (a failure is written into its
row, the others go on) and resumable (finished steps are skipped). Writes
``OUT/benchmark.md`` (the table), ``OUT/benchmark.json`` (the data behind it) and the
plots ``OUT/per_class_iou.png`` and ``OUT/bg_threshold_curves.png``.
"""
import argparse
import os.path as osp
import sys

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.apis.benchmark import benchmark_entries, run_benchmark, write_benchmark

NOTES = ('All rows ran on the same data root with the CPU configs their metafiles tag, each with '
         'its own recipe (`wsss_recipe` in the config: the chain the method\'s README measured). '
         'Seed mIoU: the seeds step on the training images, at the best background threshold of '
         'the sweep where the method thresholds (bg_thr), its own argmax rule where it has a '
         'learned background (bg_thr —); label columns: the pseudo labels the recipe writes, on '
         'the same images; stage-2 mIoU: the segmenter trained on them (the same DeepLabV3+ '
         'EfficientNet-Lite0 config for every two-stage row; a single-stage method\'s own '
         'segmenter), on the val images. Times and memory: this machine, wall clock and peak '
         'resident memory of each step\'s process; a stage 1 reused with `--checkpoint` reports '
         'the training time logged by the run that trained it. Schedules (iterations) and '
         'backbones differ by row, as each method\'s CPU config sizes them: see those columns. '
         'What this shows: that each recipe runs end to end on real photos, what each stage '
         'costs, and how seeds, labels and stage 2 relate within a row. What it does not show: a '
         'ranking of methods: 104 training images and a few hundred CPU iterations are far too '
         'few, and the rows with random CLIP / SAM weights (no such weights ship in a package) '
         'check the plumbing only. Status `partial`: the row stopped after some steps (e.g. '
         '`--until label_eval`); `not run`: its recipe exists, nothing ran yet.')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run the cross-method WSSS benchmark')
    parser.add_argument('--data-root', help='dataset root for every row')
    parser.add_argument('--tag', default='coco-mini', help='metafile Benchmark tag of the rows')
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument('--out', default='docs/en/benchmark', help='table, JSON and plots')
    parser.add_argument('--only', nargs='+', metavar='NAME', help='run these rows only')
    parser.add_argument(
        '--root', help='repository whose model-index.yml lists the rows (default: this one)')
    parser.add_argument(
        '--collect-only',
        action='store_true',
        help='run nothing: write the table from what earlier runs finished')
    parser.add_argument(
        '--until',
        metavar='STEP',
        help='stop every row after this step (e.g. label_eval: no stage 2); a later run '
        'without it completes the rows')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    try:
        entries = benchmark_entries(args.tag, args.root)
    except ValueError as e:
        sys.exit(f'error: {e}')
    if args.only:
        unknown = set(args.only) - {e['name'] for e in entries}
        if unknown:
            sys.exit(f'error: --only names rows not tagged {args.tag!r}: {sorted(unknown)}')
        entries = [e for e in entries if e['name'] in args.only]
    if not entries:
        sys.exit(f'error: no metafile model is tagged Benchmark: {args.tag}')
    tools_dir = osp.dirname(osp.abspath(__file__))
    rows = run_benchmark(
        entries,
        args.work_dir,
        args.data_root,
        tools_dir,
        until=args.until,
        collect_only=args.collect_only)
    paths = write_benchmark(rows, args.out, f'WSSS benchmark: {args.tag}', NOTES)
    counts = {}
    for r in rows:
        counts[r['status']] = counts.get(r['status'], 0) + 1
    failed = [r['name'] for r in rows if r['status'] == 'failed']
    print(f'[benchmark] {len(rows)} rows: ' + ', '.join(f'{n} {k}' for k, n in counts.items()) +
          (f' (failed: {", ".join(failed)})' if failed else '') + f'; table: {paths["markdown"]}')
    return rows


if __name__ == '__main__':
    main()
