"""Train a model from a config (the OpenMMLab ``tools/train.py``).

Two things differ from mmseg's script:

* checkpoints are written atomically: a ``CheckpointHook`` of the config is run
  as :class:`mmwsss.engine.AtomicCheckpointHook`, so a run killed during a save
  never leaves a truncated ``iter_N.pth``;
* ``--resume`` says what it resumes from, or why it cannot: a missing or damaged
  latest checkpoint is an error naming the file (mmengine would log
  "Auto resumed from the latest checkpoint None" and restart from iteration 0).
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

import mmwsss  # noqa: F401  (version checks, checkpoint allow-list)
from mmwsss.engine.resume import ResumeError, resolve_resume
from mmwsss.utils.config_utils import set_data_root, set_pseudo_label_dir, use_atomic_checkpoints
from mmwsss.utils.dist_compat import setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Train a mmwsss model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. model.backbone.depth=18)')
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument(
        '--pseudo-label-dir',
        help='stage 2: the pseudo-label folder every training dataset with a '
        'pseudo_label_dir reads (an error if the config has none)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank, torchrun sets LOCAL_RANK
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
    if args.pseudo_label_dir:
        try:
            set_pseudo_label_dir(cfg, args.pseudo_label_dir)
        except KeyError as e:
            sys.exit(f'error: {e.args[0]}')

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    use_atomic_checkpoints(cfg)
    resume = args.resume
    if resume is None and cfg.get('resume', False):
        # resume=True in the config: the same checks as --resume
        resume = cfg.get('load_from') or 'auto'
    if resume is not None:
        try:
            resume_from, message = resolve_resume(cfg.work_dir, resume)
        except ResumeError as e:
            sys.exit(f'error: {e}')  # exit status 1, message on stderr
        print_log(message, logger='current', level=logging.INFO if resume_from else logging.WARNING)
        # an explicit path: mmengine must not look for one itself (it would find None)
        cfg.resume = resume_from is not None
        cfg.load_from = resume_from

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
        __import__('mmwsss.registry', fromlist=['RUNNERS']).RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
