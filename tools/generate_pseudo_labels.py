"""Write pseudo labels (one uint8 PNG per image) from a CAM model + refine chain.

    python tools/generate_pseudo_labels.py CONFIG [CHECKPOINT] --out-dir DIR

- The model is ``cfg.model``; its ``predict`` returns data samples with ``cams``
  (C, H, W) at the original image size (CAMClassifier, SingleStageWSSS with
  predict_source='cam', training-free CLIP-ES ...). CHECKPOINT is optional for
  training-free models.
- Data: ``cfg.pseudo_label_dataloader`` (else ``cfg.test_dataloader``).
- Refinement: ``cfg.pseudo_label_cfg = dict(refiners=[...], bg_thr=...)`` builds a
  :class:`RefineChain` applied to {img (original RGB), cams, img_labels}.
- Output: DIR/<key>.png (class indices, 255 = ignore), optionally
  DIR/cams/<key>.npz (``keys``: fg class indices, ``cams``: float16 (K, H, W)), and
  one uint8 PNG per entry of ``pseudo_label_cfg.extra_maps = {state key: subfolder}``:
  DIR/<subfolder>/<key>.png from the refine state's (B, H, W) map (BECO's confidence
  mask: ``dict(conf_mask='conf_mask')`` with the ``MarginConfidenceMask`` refiner).
  ``<key>`` is the image's path relative to the dataset's image folder without
  extension (``a/01`` for ``images/a/01.jpg``), so images with the same file name
  in different folders never share an output; two images with the same key
  (``x.jpg`` and ``x.png``) are refused before anything is written.
- Writes are atomic (``.<name>.<id>.tmp`` + fsync + rename, mode from the umask);
  images whose PNG exists (and, with --save-cams, whose npz exists) are skipped,
  so a killed run resumes; the temporary files a killed run left are removed at
  the start. Runs distributed with ``--launcher pytorch``
  (tools/dist_generate_pseudo_labels.sh).
- Checked, each error naming the file: the checkpoint must fit the model exactly
  (missing / unexpected / mismatched keys, NaN weights), images must decode
  cleanly (truncated JPEGs), CAMs must be finite (the message names the image
  and the checkpoint, and says NaN or inf), labels must fit a uint8 PNG.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import barrier, get_dist_info, init_dist
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader
from torch.utils.data import Subset as TorchSubset

from mmwsss.datasets.transforms.loading import decode_image
from mmwsss.models.refiners import RefineChain
from mmwsss.models.utils.cam import check_cams
from mmwsss.registry import DATASETS, MODELS
from mmwsss.structures import stack_img_labels
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.dist_compat import setup_cpu_distributed
from mmwsss.utils.io import atomic_save_npz, atomic_write_png, output_key, remove_stale_temp_files


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate pseudo labels')
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='model checkpoint (omit for training-free models)')
    parser.add_argument('--out-dir', required=True, help='where PNGs are written')
    parser.add_argument(
        '--save-cams', action='store_true', help='also save the (refined) CAM scores as npz')
    parser.add_argument(
        '--no-refine',
        action='store_true',
        help='ignore cfg.pseudo_label_cfg.refiners (raw CAM labels)')
    parser.add_argument(
        '--bg-thr', type=float, default=None, help='override the background threshold')
    parser.add_argument(
        '--overwrite', action='store_true', help='regenerate labels that already exist')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: auto)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_refine_chain(cfg: Config, args) -> RefineChain:
    pl_cfg = dict(cfg.get('pseudo_label_cfg', None) or {})
    refiners = [] if args.no_refine else list(pl_cfg.get('refiners', []))
    bg_thr = args.bg_thr if args.bg_thr is not None else pl_cfg.get(
        'bg_thr',
        cfg.model.get('test_cfg', {}).get('bg_thr', 0.15))
    return RefineChain(refiners=refiners, bg_thr=bg_thr)


def build_dataset(cfg: Config):
    loader_cfg = cfg.get('pseudo_label_dataloader', None) or cfg.test_dataloader
    return DATASETS.build(loader_cfg['dataset']), loader_cfg


def load_rgb(path: str, shape) -> torch.Tensor:
    """(1, 3, H, W) uint8 RGB image; errors name the file (corrupt JPEGs included)."""
    try:
        with open(path, 'rb') as f:
            img_bytes = f.read()
    except OSError as e:
        raise IOError(f'cannot read image {path}: {e}') from e
    img = decode_image(img_bytes, path, flag='color', channel_order='rgb')
    if tuple(img.shape[:2]) != tuple(shape[:2]):
        raise ValueError(f'image {path} is {img.shape[:2]} but its CAM is {tuple(shape[:2])}')
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]


def output_keys(dataset) -> List[str]:
    """The output name of every sample (see module doc); clashes are an error."""
    img_root = (getattr(dataset, 'data_prefix', None) or {}).get('img_path')
    keys, first = [], {}
    for idx in range(len(dataset)):
        img_path = dataset.get_data_info(idx)['img_path']
        key = output_key(img_path, img_root)
        if key in first:
            raise ValueError(f'images {first[key]} and {img_path} would both be written as '
                             f'{key}.png; rename one of them')
        first[key] = img_path
        keys.append(key)
    return keys


def _is_done(out_dir: str, key: str, save_cams: bool, extra_maps=()) -> bool:
    # the PNG is written last, so it exists only when everything of the image is done;
    # a run with --save-cams after one without must still write the npz files
    if not osp.exists(osp.join(out_dir, key + '.png')):
        return False
    if any(not osp.exists(osp.join(out_dir, sub, key + '.png')) for sub in extra_maps):
        return False
    return not save_cams or osp.exists(osp.join(out_dir, 'cams', key + '.npz'))


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
        # strict, on every rank: a partial fit would write labels from random weights
        load_checkpoint_strict(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()
    chain = build_refine_chain(cfg, args).to(device)
    args.extra_maps = dict((cfg.get('pseudo_label_cfg', None) or {}).get('extra_maps', {}))

    dataset, loader_cfg = build_dataset(cfg)
    keys = output_keys(dataset)
    os.makedirs(args.out_dir, exist_ok=True)
    if rank == 0:
        # no writer is running yet: every temporary file here is a killed run's leftover
        stale = remove_stale_temp_files(args.out_dir)
        if stale:
            print(
                f'[pseudo labels] removed {len(stale)} temporary file(s) of an '
                f'interrupted run from {args.out_dir}',
                flush=True)
    if world_size > 1:
        barrier()  # nobody writes before rank 0 has cleaned up
    extra = list(args.extra_maps.values())
    todo = [
        idx for idx, key in enumerate(keys)
        if args.overwrite or not _is_done(args.out_dir, key, args.save_cams, extra)
    ]
    n_done = len(dataset) - len(todo)
    if rank == 0:
        print(
            f'[pseudo labels] {len(dataset)} images, {n_done} already written, '
            f'{len(todo)} to do -> {args.out_dir}',
            flush=True)
    # A view of the images still to do. Not BaseDataset.get_subset: mmengine 0.10.7 deep-copies
    # the dataset with a `memo` dict that is a shared default argument, so in a process that
    # builds datasets repeatedly a stale id can map a pipeline transform to an old dataset
    # ("'WSSSVOCDataset' object is not callable", seen about once in 20 test runs).
    subset = TorchSubset(dataset, todo) if todo else None
    key_of = {dataset.get_data_info(idx)['img_path']: keys[idx] for idx in todo}

    written = 0
    if subset is not None:
        sampler = DefaultSampler(subset, shuffle=False, round_up=False)
        loader = DataLoader(
            subset,
            batch_size=loader_cfg.get('batch_size', 1),
            sampler=sampler,
            num_workers=loader_cfg.get('num_workers', 0),
            collate_fn=pseudo_collate)
        progress = mmcv_progress(len(sampler), rank)
        with torch.no_grad():
            for data in loader:
                samples = model.test_step(data)
                for sample in samples:
                    written += write_one(sample, model, chain, args, device,
                                         key_of[sample.img_path])
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


def write_one(sample, model, chain: RefineChain, args, device, key: Optional[str] = None) -> int:
    if 'cams' not in sample:
        raise KeyError(f'{type(model).__name__}.predict returned no "cams" for '
                       f'{sample.img_path}: use a CAM model (or predict_source="cam")')
    cams = sample.cams.data.float()[None].to(device)
    num_classes = cams.shape[1]
    labels = stack_img_labels([sample], num_classes, device)
    where = f'image {sample.img_path}' + (f' (checkpoint {args.checkpoint})'
                                          if args.checkpoint else ' (no checkpoint)')
    check_cams(cams, labels, where=where)
    img = load_rgb(sample.img_path, cams.shape[-2:]).to(device)
    state = chain(dict(img=img, cams=cams, img_labels=labels, meta=[sample.metainfo]))
    label = chain.final_label(state)[0].cpu().numpy()
    bad = np.unique(label[((label < 0) | (label > num_classes)) & (label != 255)])
    if bad.size:  # a uint8 cast would wrap these into valid-looking classes
        raise ValueError(f'{where}: the refine chain produced labels {bad.tolist()[:10]} '
                         f'outside [0, {num_classes}] and not ignore (255)')
    label = label.astype(np.uint8)
    key = key or osp.splitext(osp.basename(sample.img_path))[0]
    if args.save_cams:
        keep = labels[0].nonzero().flatten()
        out_cams = state.get('cams', cams)[0, keep].cpu().numpy().astype(np.float16)
        atomic_save_npz(
            osp.join(args.out_dir, 'cams', key + '.npz'), keys=keep.cpu().numpy(), cams=out_cams)
    for field, sub in (getattr(args, 'extra_maps', None) or {}).items():
        value = state.get(field)
        if value is None:
            raise KeyError(f'pseudo_label_cfg.extra_maps asks for {field!r}, which the refine '
                           f'chain did not set (state keys: {sorted(state)})')
        value = value[0].cpu().numpy()
        if value.min() < 0 or value.max() > 255:
            raise ValueError(f'{where}: {field} does not fit a uint8 PNG')
        atomic_write_png(osp.join(args.out_dir, sub, key + '.png'), value.astype(np.uint8))
    atomic_write_png(osp.join(args.out_dir, key + '.png'), label)
    return 1


if __name__ == '__main__':
    summary = main()
    print(f"[pseudo labels] written {summary['written']}, skipped {summary['skipped']} "
          f"(already done), total {summary['total']}")
