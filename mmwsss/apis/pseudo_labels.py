"""Pseudo labels (one uint8 PNG per image) from a CAM model + refine chain.

The one implementation behind ``tools/generate_pseudo_labels.py`` (a thin CLI over
:func:`generate_pseudo_labels`), :class:`mmwsss.engine.hooks.PseudoLabelHook` (which
calls :func:`write_pseudo_labels` with the model being trained) and the pipeline tool.

- The model is ``cfg.model``; its ``predict`` returns data samples with ``cams``
  (C, H, W) at the original image size (CAMClassifier, SingleStageWSSS with
  predict_source='cam', training-free CLIP-ES ...).
- Data: ``cfg.pseudo_label_dataloader`` (else ``cfg.test_dataloader``).
- Refinement: ``cfg.pseudo_label_cfg = dict(refiners=[...], bg_thr=...)`` builds a
  :class:`RefineChain` applied to {img (original RGB), cams, img_labels}.
- Output: DIR/<key>.png (class indices, 255 = ignore), optionally
  DIR/cams/<key>.npz (``keys``: fg class indices, ``cams``: float16 (K, H, W)), and
  one uint8 PNG per entry of ``pseudo_label_cfg.extra_maps = {state key: subfolder}``.
  ``<key>`` is the image's path relative to the dataset's image folder without
  extension (:func:`mmwsss.utils.io.output_key`); two images with the same key are
  refused before anything is written.
- Writes are atomic; images whose outputs exist are skipped (a killed run resumes);
  rank 0 removes the temporary files of a killed run before anybody writes (barrier);
  in a distributed run each rank writes its share (``DefaultSampler``), then all
  ranks meet at a barrier.
"""
import os
import os.path as osp
import sys
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader
from torch.utils.data import Subset as TorchSubset

from mmwsss.datasets.transforms.loading import decode_image
from mmwsss.models.refiners import RefineChain
from mmwsss.models.utils.cam import check_cams
from mmwsss.registry import DATASETS, MODELS
from mmwsss.structures import stack_img_labels
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.io import atomic_save_npz, atomic_write_png, output_key, remove_stale_temp_files

__all__ = [
    'build_refine_chain', 'build_pseudo_label_dataset', 'load_rgb', 'output_keys', 'is_done',
    'output_files', 'remove_stale_outputs', 'write_one', 'write_pseudo_labels',
    'generate_pseudo_labels'
]

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


def build_refine_chain(cfg: Config,
                       *,
                       no_refine: bool = False,
                       bg_thr: Optional[float] = None,
                       pseudo_label_cfg: Optional[dict] = None) -> RefineChain:
    """The config's refine chain.

    Args:
        cfg: the method config (``pseudo_label_cfg``, else ``model.test_cfg.bg_thr``,
            else 0.15 for the background threshold).
        no_refine: drop the refiners (raw CAM labels).
        bg_thr: overrides the background threshold.
        pseudo_label_cfg: used instead of ``cfg.pseudo_label_cfg``.
    """
    pl_cfg = dict(
        pseudo_label_cfg if pseudo_label_cfg is not None else (
            cfg.get('pseudo_label_cfg', None) or {}))
    refiners = [] if no_refine else list(pl_cfg.get('refiners', []))
    if bg_thr is None:
        bg_thr = pl_cfg.get('bg_thr', (cfg.model.get('test_cfg', None) or {}).get('bg_thr', 0.15))
    return RefineChain(refiners=refiners, bg_thr=bg_thr)


def build_pseudo_label_dataset(cfg: Config, loader_cfg: Optional[dict] = None) -> Tuple:
    """(dataset, loader cfg) of ``loader_cfg`` / ``cfg.pseudo_label_dataloader`` /
    ``cfg.test_dataloader``, in that order."""
    loader_cfg = loader_cfg or cfg.get('pseudo_label_dataloader', None) or cfg.test_dataloader
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


def output_files(out_dir: str,
                 key: str,
                 save_cams: bool = False,
                 extra_maps: Sequence[str] = ()) -> List[str]:
    """Every file written for image ``key``; the label PNG (written last) comes first."""
    files = [osp.join(out_dir, key + '.png')]
    files += [osp.join(out_dir, sub, key + '.png') for sub in extra_maps]
    if save_cams:
        files.append(osp.join(out_dir, 'cams', key + '.npz'))
    return files


def is_done(out_dir: str,
            key: str,
            save_cams: bool = False,
            extra_maps: Sequence[str] = ()) -> bool:
    """Whether every output of ``key`` exists.

    The PNG is written last, so it exists only when everything of the image is done;
    a run with ``save_cams`` after one without must still write the npz files.
    """
    return all(osp.exists(p) for p in output_files(out_dir, key, save_cams, extra_maps))


def remove_stale_outputs(out_dir: str, log: Log = _print) -> List[str]:
    """Rank 0 removes a killed run's temporary files, then every rank meets at a barrier
    (nobody writes before the folder is clean). Returns the removed paths (rank 0)."""
    rank, world_size = get_dist_info()
    stale: List[str] = []
    if rank == 0:
        os.makedirs(out_dir, exist_ok=True)
        # no writer is running yet: every temporary file here is a killed run's leftover
        stale = remove_stale_temp_files(out_dir)
        if stale:
            log(f'[pseudo labels] removed {len(stale)} temporary file(s) of an '
                f'interrupted run from {out_dir}')
    if world_size > 1:
        barrier()
    return stale


def write_one(sample,
              chain: RefineChain,
              out_dir: str,
              key: Optional[str] = None,
              *,
              device: Union[str, torch.device] = 'cpu',
              save_cams: bool = False,
              extra_maps: Optional[Mapping[str, str]] = None,
              checkpoint: Optional[str] = None,
              model_name: str = 'model') -> int:
    """Refine one predicted sample and write its outputs atomically (label PNG last).

    Args:
        sample: a data sample with ``cams`` (C, H, W) at the original image size.
        chain: the refine chain (on ``device``).
        key: output name (default: the image's file stem).
        extra_maps: {refine state key: subfolder} of extra uint8 maps.
        checkpoint: named in error messages.
        model_name: the model class, named in error messages.
    Returns:
        1 (the number of images written).
    """
    if 'cams' not in sample:
        raise KeyError(f'{model_name}.predict returned no "cams" for '
                       f'{sample.img_path}: use a CAM model (or predict_source="cam")')
    cams = sample.cams.data.float()[None].to(device)
    num_classes = cams.shape[1]
    labels = stack_img_labels([sample], num_classes, device)
    where = f'image {sample.img_path}' + (f' (checkpoint {checkpoint})'
                                          if checkpoint else ' (no checkpoint)')
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
    if save_cams:
        keep = labels[0].nonzero().flatten()
        out_cams = state.get('cams', cams)[0, keep].cpu().numpy().astype(np.float16)
        atomic_save_npz(
            osp.join(out_dir, 'cams', key + '.npz'), keys=keep.cpu().numpy(), cams=out_cams)
    for field, sub in (extra_maps or {}).items():
        value = state.get(field)
        if value is None:
            raise KeyError(f'pseudo_label_cfg.extra_maps asks for {field!r}, which the refine '
                           f'chain did not set (state keys: {sorted(state)})')
        value = value[0].cpu().numpy()
        if value.min() < 0 or value.max() > 255:
            raise ValueError(f'{where}: {field} does not fit a uint8 PNG')
        atomic_write_png(osp.join(out_dir, sub, key + '.png'), value.astype(np.uint8))
    atomic_write_png(osp.join(out_dir, key + '.png'), label)
    return 1


class _Silent:

    def update(self) -> None:
        pass


def _progress(n: int, rank: int, show: bool):
    from mmengine.utils import ProgressBar
    return ProgressBar(n) if rank == 0 and show else _Silent()


def write_pseudo_labels(model: torch.nn.Module,
                        chain: RefineChain,
                        dataset,
                        out_dir: str,
                        *,
                        loader_cfg: Optional[dict] = None,
                        save_cams: bool = False,
                        overwrite: bool = False,
                        extra_maps: Optional[Mapping[str, str]] = None,
                        device: Union[str, torch.device, None] = None,
                        checkpoint: Optional[str] = None,
                        log: Log = _print,
                        progress: bool = True) -> Dict[str, int]:
    """Write the pseudo labels of ``dataset`` with a built (loaded) model.

    ``model.test_step`` gives the CAMs (a DDP-wrapped model works too); the model is
    put in eval mode for the pass and its train / eval mode restored afterwards.
    Every rank must call this (it holds two barriers in a distributed run).

    Args:
        loader_cfg: ``batch_size`` / ``num_workers`` of the loader (default 1 / 0).
        overwrite: regenerate images whose outputs exist.
        device: where the refine chain runs (default: the model's device).
        log: rank-0 messages (``print`` for the tool, the runner's logger for hooks).
        progress: show a progress bar on rank 0.
    Returns:
        dict(total, skipped, written); ``written`` counts this rank's images.
    """
    rank, world_size = get_dist_info()
    loader_cfg = loader_cfg or {}
    extra_maps = dict(extra_maps or {})
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else 'cpu'
    chain = chain.to(device)
    keys = output_keys(dataset)
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_outputs(out_dir, log)
    extra = list(extra_maps.values())
    todo = [
        idx for idx, key in enumerate(keys)
        if overwrite or not is_done(out_dir, key, save_cams, extra)
    ]
    n_done = len(dataset) - len(todo)
    if rank == 0:
        log(f'[pseudo labels] {len(dataset)} images, {n_done} already written, '
            f'{len(todo)} to do -> {out_dir}')
    # A view of the images still to do. Not BaseDataset.get_subset: mmengine 0.10.7 deep-copies
    # the dataset with a `memo` dict that is a shared default argument, so in a process that
    # builds datasets repeatedly a stale id can map a pipeline transform to an old dataset
    # ("'WSSSVOCDataset' object is not callable", seen about once in 20 test runs).
    subset = TorchSubset(dataset, todo) if todo else None
    key_of = {dataset.get_data_info(idx)['img_path']: keys[idx] for idx in todo}
    inner = getattr(model, 'module', model)
    written = 0
    if subset is not None:
        sampler = DefaultSampler(subset, shuffle=False, round_up=False)
        loader = DataLoader(
            subset,
            batch_size=loader_cfg.get('batch_size', 1),
            sampler=sampler,
            num_workers=loader_cfg.get('num_workers', 0),
            collate_fn=pseudo_collate)
        bar = _progress(len(sampler), rank, progress)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for data in loader:
                    for sample in model.test_step(data):
                        written += write_one(
                            sample,
                            chain,
                            out_dir,
                            key_of[sample.img_path],
                            device=device,
                            save_cams=save_cams,
                            extra_maps=extra_maps,
                            checkpoint=checkpoint,
                            model_name=type(inner).__name__)
                        bar.update()
        finally:
            model.train(was_training)
        if rank == 0 and progress:
            sys.stdout.write('\n')
    if world_size > 1:
        barrier()
    return dict(total=len(dataset), skipped=n_done, written=written)


def generate_pseudo_labels(cfg: Union[Config, str],
                           checkpoint: Optional[str],
                           out_dir: str,
                           *,
                           bg_thr: Optional[float] = None,
                           save_cams: bool = False,
                           overwrite: bool = False,
                           device: Optional[str] = None,
                           no_refine: bool = False,
                           log: Log = _print,
                           progress: bool = True) -> Dict[str, int]:
    """Build ``cfg.model``, load ``checkpoint`` strictly and write the pseudo labels.

    What ``tools/generate_pseudo_labels.py`` does after its argument parsing (it
    initialises the process group first in a distributed run; so must a caller).

    Args:
        cfg: a Config (``--cfg-options`` / data root already applied) or its path.
        checkpoint: the weights; None for training-free models. Loaded strictly on
            every rank: a partial fit would write labels from random weights.
        out_dir: output folder (see the module doc for its layout).
        bg_thr: overrides the background threshold of the refine chain.
        save_cams: also write DIR/cams/<key>.npz.
        overwrite: regenerate labels that already exist.
        device: 'cpu' / 'cuda' (default: cuda when available).
        no_refine: ignore ``cfg.pseudo_label_cfg.refiners`` (raw CAM labels).
    Returns:
        dict(total, skipped, written).
    """
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint_strict(model, checkpoint, map_location='cpu')
    model.to(device).eval()
    chain = build_refine_chain(cfg, no_refine=no_refine, bg_thr=bg_thr)
    extra_maps = dict((cfg.get('pseudo_label_cfg', None) or {}).get('extra_maps', {}))
    dataset, loader_cfg = build_pseudo_label_dataset(cfg)
    return write_pseudo_labels(
        model,
        chain,
        dataset,
        out_dir,
        loader_cfg=loader_cfg,
        save_cams=save_cams,
        overwrite=overwrite,
        extra_maps=extra_maps,
        device=device,
        checkpoint=checkpoint,
        log=log,
        progress=progress)
