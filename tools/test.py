"""Test / evaluate a checkpoint (the OpenMMLab ``tools/test.py``).

For a CAM classifier the test split is usually the *training* images with
their masks (the WSSS seed protocol) and the evaluator ``CAMMetric`` sweeps the
background threshold. ``--out DIR`` saves the predicted label maps as PNGs.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmwsss  # noqa: F401
from mmwsss.utils.config_utils import set_data_root
from mmwsss.utils.dist_compat import setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (omit for training-free models)')
    parser.add_argument('--work-dir', help='the directory to save evaluation results')
    parser.add_argument('--out', type=str,
                        help='directory where predicted label PNGs are written')
    parser.add_argument('--show-dir', help='directory to save painted predictions')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value')
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


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
    cfg.load_from = args.checkpoint  # None: training-free model (CLIP-ES, priors)

    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' in hooks:
            hooks.visualization.draw = True
            hooks.visualization.show = False
            cfg.visualizer.save_dir = args.show_dir
    if args.out is not None:
        # mmseg's IoUMetric writes one uint8 PNG per image into output_dir
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['output_dir'] = args.out
            ev['keep_results'] = True

    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
