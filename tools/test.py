"""Test / evaluate a checkpoint (the OpenMMLab ``tools/test.py``).

For a CAM classifier the test split is usually the *training* images with
their masks (the WSSS seed protocol) and the evaluator ``CAMMetric`` sweeps the
background threshold. ``--out DIR`` saves the predictions: label PNGs for every
evaluator that can write them (mmseg's ``IoUMetric``, ``CAMMetric``, which also
writes the CAMs); an evaluator that cannot is an error, not a silent no-op.

The checkpoint is loaded strictly (:func:`load_checkpoint_strict`): a missing,
unexpected or mismatched key is an error naming the checkpoint and the keys.
mmengine's ``load_from`` only warns about a size mismatch and scores the
randomly initialised weights.
"""
import argparse
import inspect
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

import mmwsss  # noqa: F401
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.checks import NonFiniteError
from mmwsss.utils.config_utils import set_data_root
from mmwsss.utils.dist_compat import setup_cpu_distributed
from mmwsss.utils.io import atomic_write_json


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='checkpoint file (omit for training-free models)')
    parser.add_argument('--work-dir', help='the directory to save evaluation results')
    parser.add_argument(
        '--out',
        type=str,
        help='directory where the predictions (label PNGs; CAMs for '
        'CAMMetric) are written')
    parser.add_argument('--show-dir', help='directory to save painted predictions')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings, key=value')
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument(
        '--metrics-out',
        metavar='JSON',
        help='also write the metrics dict runner.test() returns here (atomically)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def set_output_dir(cfg: Config, out: str) -> None:
    """Point every test evaluator at ``out``; refuse one that cannot write predictions.

    Each evaluator class is looked up in the registry and must accept
    ``output_dir`` (mmseg's ``IoUMetric`` and mmwsss's ``CAMMetric`` do). Only the
    arguments a class accepts are set: ``BaseMetric`` raises a TypeError for
    unknown ones.
    """
    from mmwsss.registry import METRICS
    from mmwsss.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
        else [cfg.test_evaluator]
    for ev in evaluators:
        cls = ev['type'] if isinstance(ev['type'], type) else METRICS.get(ev['type'])
        if cls is None:
            raise KeyError(f'test_evaluator type {ev["type"]!r} is not registered')
        params = inspect.signature(cls.__init__).parameters
        if 'output_dir' not in params:
            raise SystemExit(f'error: --out: the evaluator {cls.__name__} cannot write '
                             'predictions (it has no output_dir argument)')
        ev['output_dir'] = out
        if 'keep_results' in params:
            ev['keep_results'] = True


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.launcher != 'none':
        setup_cpu_distributed(cfg)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    # loaded below, strictly; mmengine's load_from would only warn about mismatches
    cfg.load_from = None

    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' in hooks:
            hooks.visualization.draw = True
            hooks.visualization.show = False
            cfg.visualizer.save_dir = args.show_dir
    if args.out is not None:
        set_output_dir(cfg, args.out)

    runner = Runner.from_cfg(cfg)
    if args.checkpoint:  # None: training-free model (CLIP-ES, priors)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_checkpoint_strict(model, args.checkpoint, map_location='cpu')
        runner.logger.info(f'Loaded checkpoint {args.checkpoint} (strict)')
    try:
        metrics = runner.test()
    except NonFiniteError as e:
        # the metric knows the image, not the checkpoint
        ckpt = args.checkpoint or 'no checkpoint'
        sys.exit(f'error: {e} [checkpoint {ckpt}]')
    if args.metrics_out:
        atomic_write_json(args.metrics_out, {k: _plain(v) for k, v in metrics.items()}, indent=1)


def _plain(value):
    """A metric value as a JSON number (numpy scalars and 0-d tensors included)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and value != value else value  # NaN: not JSON


if __name__ == '__main__':
    main()
