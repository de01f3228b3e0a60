"""Write pseudo labels (one uint8 PNG per image) from a CAM model + refine chain.

    python tools/generate_pseudo_labels.py CONFIG [CHECKPOINT] --out-dir DIR

- The model is ``cfg.model``; its ``predict`` returns data samples with ``cams``
  (C, H, W) at the original image size (CAMClassifier, SingleStageWSSS with
  predict_source='cam', training-free CLIP-ES ...). CHECKPOINT is optional for
  training-free models.
- Data: ``cfg.pseudo_label_dataloader`` (else ``cfg.test_dataloader``).
- Refinement: ``cfg.pseudo_label_cfg = dict(refiners=[...], bg_thr=...)`` builds a
  :class:`RefineChain` applied to {img (original RGB), cams, img_labels}.
- Output: DIR/<image stem>.png (class indices, 255 = ignore), optionally
  DIR/cams/<stem>.npz (``keys``: fg class indices, ``cams``: float16 (K, H, W)).
  Writes are atomic (tmp file + rename); images whose PNG exists are skipped, so a
  killed run resumes. Runs distributed with ``--launcher pytorch``
  (tools/dist_generate_pseudo_labels.sh).
"""
import argparse
import os
import os.path as osp
import sys

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import get_dist_info, init_dist, barrier
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch.utils.data import DataLoader

import mmwsss  # noqa: F401
from mmwsss.registry import DATASETS, MODELS
from mmwsss.models.heads.cam_head import stack_img_labels
from mmwsss.models.refiners import RefineChain
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.dist_compat import setup_cpu_distributed
from mmwsss.utils.io import atomic_save_npz, atomic_write_png, image_stem


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate pseudo labels')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='model checkpoint (omit for training-free models)')
    parser.add_argument('--out-dir', required=True, help='where PNGs are written')
    parser.add_argument('--save-cams', action='store_true',
                        help='also save the (refined) CAM scores as npz')
    parser.add_argument('--no-refine', action='store_true',
                        help='ignore cfg.pseudo_label_cfg.refiners (raw CAM labels)')
    parser.add_argument('--bg-thr', type=float, default=None,
                        help='override the background threshold')
    parser.add_argument('--overwrite', action='store_true',
                        help='regenerate labels that already exist')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: auto)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_refine_chain(cfg: Config, args) -> RefineChain:
    pl_cfg = dict(cfg.get('pseudo_label_cfg', None) or {})
    refiners = [] if args.no_refine else list(pl_cfg.get('refiners', []))
    bg_thr = args.bg_thr if args.bg_thr is not None else pl_cfg.get(
        'bg_thr', cfg.model.get('test_cfg', {}).get('bg_thr', 0.15))
    return RefineChain(refiners=refiners, bg_thr=bg_thr)


def build_dataset(cfg: Config):
    loader_cfg = cfg.get('pseudo_label_dataloader', None) or cfg.test_dataloader
    return DATASETS.build(loader_cfg['dataset']), loader_cfg


def load_rgb(path: str, shape) -> torch.Tensor:
    """(1, 3, H, W) uint8 RGB image; errors name the file."""
    try:
        img = mmcv.imread(path, channel_order='rgb')
    except Exception as e:  # corrupt file
        raise IOError(f'cannot read image {path}: {e}') from e
    if img is None:
        raise IOError(f'cannot read image {path}')
    if tuple(img.shape[:2]) != tuple(shape[:2]):
        raise ValueError(f'image {path} is {img.shape[:2]} but its CAM is {tuple(shape[:2])}')
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    if args.launcher != 'none':
        setup_cpu_distributed(cfg)
        init_dist(args.launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    rank, world_size = get_dist_info()
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')

    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    model.to(device).eval()
    chain = build_refine_chain(cfg, args).to(device)

    dataset, loader_cfg = build_dataset(cfg)
    os.makedirs(args.out_dir, exist_ok=True)
    todo = []
    for idx in range(len(dataset)):
        stem = image_stem(dataset.get_data_info(idx)['img_path'])
        if args.overwrite or not osp.exists(osp.join(args.out_dir, stem + '.png')):
            todo.append(idx)
    n_done = len(dataset) - len(todo)
    if rank == 0:
        print(f'[pseudo labels] {len(dataset)} images, {n_done} already written, '
              f'{len(todo)} to do -> {args.out_dir}', flush=True)
    subset = dataset.get_subset(todo) if todo else None

    written = 0
    if subset is not None:
        sampler = DefaultSampler(subset, shuffle=False, round_up=False)
        loader = DataLoader(subset, batch_size=loader_cfg.get('batch_size', 1),
                            sampler=sampler, num_workers=loader_cfg.get('num_workers', 0),
                            collate_fn=pseudo_collate)
        progress = mmcv_progress(len(sampler), rank)
        with torch.no_grad():
            for data in loader:
                samples = model.test_step(data)
                for sample in samples:
                    written += write_one(sample, model, chain, args, device)
                    progress.update()
        if rank == 0:
            sys.stdout.write('\n')
    if world_size > 1:
        barrier()
    return dict(total=len(dataset), skipped=n_done, written=written)


def mmcv_progress(n: int, rank: int):
    from mmengine.utils import ProgressBar

    class _Silent:
        def update(self):
            pass
    return ProgressBar(n) if rank == 0 else _Silent()


def write_one(sample, model, chain: RefineChain, args, device) -> int:
    if 'cams' not in sample:
        raise KeyError(f'{type(model).__name__}.predict returned no "cams" for '
                       f'{sample.img_path}: use a CAM model (or predict_source="cam")')
    cams = sample.cams.data.float()[None].to(device)
    num_classes = cams.shape[1]
    labels = stack_img_labels([sample], num_classes, device)
    img = load_rgb(sample.img_path, cams.shape[-2:]).to(device)
    state = chain(dict(img=img, cams=cams, img_labels=labels, meta=[sample.metainfo]))
    label = chain.final_label(state)[0].cpu().numpy().astype(np.uint8)
    stem = image_stem(sample.img_path)
    if args.save_cams:
        keys = labels[0].nonzero().flatten()
        out_cams = state.get('cams', cams)[0, keys].cpu().numpy().astype(np.float16)
        atomic_save_npz(osp.join(args.out_dir, 'cams', stem + '.npz'),
                        keys=keys.cpu().numpy(), cams=out_cams)
    atomic_write_png(osp.join(args.out_dir, stem + '.png'), label)
    return 1


if __name__ == '__main__':
    summary = main()
    print(f"[pseudo labels] written {summary['written']}, skipped {summary['skipped']} "
          f"(already done), total {summary['total']}")
