"""The offline prototype path: feature dump -> per-class clustering -> fixed centres.

``tools/make_prototype_cams.py`` drives these functions; LPCAM
(:class:`mmwsss.models.segmentors.LPCAMClassifier`) reads what they write.

Files (all numeric ``.npz`` written atomically, read with ``allow_pickle=False``):

    <dump_dir>/<key>.npz        one image: ``feat`` (D, h, w) the single-scale backbone
                                feature the CAM head sees, ``keys`` (K,) its classes,
                                ``cam`` (K, h, w) their max-normalised multi-scale CAMs
                                nearest-resized to the feature grid (the selection mask).
    <proto_dir>/centers.npz     ``centers`` (C, S, D) class prototypes, zero-padded,
                                ``valid`` (C, S) which slots hold one.
    <proto_dir>/context.npz     the same for the context prototypes.
    <proto_dir>/clusters.npz    every k-means centre before selection: ``fg_centers`` /
                                ``ctx_centers`` (C, K, D), ``*_probs`` (C, K) the
                                classifier softmax of the class, ``*_sizes`` (C, K)
                                member counts (0: no centre), so that the thresholds can
                                be changed without clustering again.
    <proto_dir>/meta.json       the settings and per-class counts.

The centres are loaded into two :class:`PrototypeBank` (``update='fixed'``).
"""
import json
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from mmwsss.utils.io import atomic_save_npz, atomic_write_json, load_npz
from .bank import PrototypeBank
from .lpcam import classifier_probs, kmeans_cosine, nearest_resize, select_centers, split_pools

PROTO_FILES = ('centers.npz', 'context.npz', 'clusters.npz', 'meta.json')


# --------------------------------------------------------------------------- dump files
def save_dump(path: str,
              feat: Tensor,
              keys: Sequence[int],
              cam: Tensor,
              dtype: str = 'float32') -> None:
    """Write one image's dump (see the module doc). ``cam`` is resized to the feature
    grid here (nearest, as the official clustering step does)."""
    if feat.dim() != 3:
        raise ValueError(f'{path}: feat must be (D, h, w), got {tuple(feat.shape)}')
    keys = np.asarray(list(keys), dtype=np.int64)
    if cam.shape[0] != keys.shape[0]:
        raise ValueError(f'{path}: {cam.shape[0]} CAMs for {keys.shape[0]} classes')
    cam = nearest_resize(cam.float(), tuple(feat.shape[1:])) if cam.shape[0] else \
        cam.new_zeros((0, ) + tuple(feat.shape[1:]))
    atomic_save_npz(
        path,
        feat=feat.detach().cpu().numpy().astype(dtype),
        keys=keys,
        cam=cam.detach().cpu().numpy().astype(np.float32))


def load_dump(path: str) -> Dict[str, np.ndarray]:
    """One dump file, checked; errors name the file and the key."""
    data = load_npz(path, 'feature dump')
    missing = {'feat', 'keys', 'cam'} - set(data)
    if missing:
        raise KeyError(f'feature dump {path} lacks {sorted(missing)} (has {sorted(data)})')
    feat, keys, cam = data['feat'], data['keys'], data['cam']
    if feat.ndim != 3:
        raise ValueError(f'feature dump {path}: feat must be (D, h, w), got {feat.shape}')
    if keys.ndim != 1 or cam.shape != (keys.shape[0], ) + feat.shape[1:]:
        raise ValueError(f'feature dump {path}: cam {cam.shape} does not fit keys '
                         f'{keys.shape} and feat {feat.shape}')
    if not np.isfinite(feat).all() or not np.isfinite(cam).all():
        raise ValueError(f'feature dump {path}: non-finite values in feat or cam')
    return data


# --------------------------------------------------------------------------- clustering
def class_pools(dump_paths: Sequence[str], class_id: int,
                select_thres: float) -> Tuple[Tensor, Tensor]:
    """The fg (n, D) and context (m, D) pools of one class over the given dump files
    (a file listed twice contributes twice, as the COCO sampling with replacement
    does in the official code)."""
    fg, ctx = [], []
    for path in dump_paths:
        data = load_dump(path)
        where = np.nonzero(data['keys'] == class_id)[0]
        if where.size == 0:
            raise ValueError(f'feature dump {path} does not hold class {class_id} '
                             f'(keys {data["keys"].tolist()})')
        f, b = split_pools(
            torch.from_numpy(data['feat']).float(), torch.from_numpy(data['cam'][where[0]]),
            select_thres)
        fg.append(f)
        ctx.append(b)
    dim = fg[0].shape[1] if fg else 0
    cat = (lambda xs: torch.cat(xs, 0) if xs else torch.zeros(0, dim))
    return cat(fg), cat(ctx)


def cluster_prototypes(class_dumps: Dict[int, List[str]],
                       weight: Tensor,
                       num_clusters: int = 12,
                       select_thres: float = 0.1,
                       class_thres: float = 0.9,
                       context_thres: float = 0.9,
                       context_thres_low: float = 0.05,
                       keep_best: bool = True,
                       seed: int = 0,
                       kmeans_cfg: Optional[dict] = None,
                       log: Callable[[str], None] = print) -> Dict[str, np.ndarray]:
    """Per class: pools -> cosine k-means on each -> classifier-softmax selection.

    Args:
        class_dumps: {class index: dump files of its images}; classes without files
            get no prototype.
        weight: (C, D) the CAM classifier weight.
        num_clusters: K per pool.
        select_thres, class_thres, context_thres, context_thres_low: see
            :mod:`mmwsss.models.prototypes.lpcam`.
        keep_best: the COCO code's fallback when no centre passes ``class_thres``.
        seed: k-means seed of class c is ``seed + c`` (the official code seeds nothing).
        kmeans_cfg: extra :func:`kmeans_cosine` options (init, n_init, max_iter, tol).
        log: one line per class.
    Returns:
        the arrays of ``clusters.npz`` plus ``fg_keep`` / ``ctx_keep`` (C, K) bool.
    """
    num_classes, dim = weight.shape
    k = int(num_clusters)
    out = {
        f'{p}_{n}': np.zeros(s, dtype=t)
        for p in ('fg', 'ctx')
        for n, s, t in (('centers', (num_classes, k, dim), np.float32), ('probs', (num_classes, k),
                                                                         np.float32),
                        ('sizes', (num_classes, k), np.int64), ('keep', (num_classes, k), bool))
    }
    for c in range(num_classes):
        paths = class_dumps.get(c, [])
        if not paths:
            log(f'[prototypes] class {c}: no image, no prototype')
            continue
        fg, ctx = class_pools(paths, c, select_thres)
        if fg.shape[1] != dim:
            raise ValueError(f'features of class {c} have {fg.shape[1]} channels but the '
                             f'classifier weight is {tuple(weight.shape)}')
        for pool, data, rule in (('fg', fg, dict(high=class_thres, keep_best=keep_best)),
                                 ('ctx', ctx, dict(high=context_thres, low=context_thres_low))):
            labels, centers = kmeans_cosine(data, k, seed=seed + c, **(kmeans_cfg or {}))
            n = centers.shape[0]
            if n == 0:
                continue
            probs = classifier_probs(centers, weight)[:, c]
            keep = select_centers(centers, weight, c, **rule)
            out[f'{pool}_centers'][c, :n] = centers.numpy()
            out[f'{pool}_probs'][c, :n] = probs.numpy()
            out[f'{pool}_sizes'][c, :n] = torch.bincount(labels, minlength=n).numpy()
            out[f'{pool}_keep'][c, :n] = keep.numpy()
        log(f'[prototypes] class {c}: {len(paths)} images, fg pool {fg.shape[0]} -> '
            f'{int(out["fg_keep"][c].sum())}/{min(k, fg.shape[0])} centres kept, context '
            f'pool {ctx.shape[0]} -> {int(out["ctx_keep"][c].sum())}/{min(k, ctx.shape[0])}')
    return out


def selected(centers: np.ndarray, keep: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Zero-padded (C, S, D) kept centres and their (C, S) validity, S = max kept
    (at least 1 so that every bank has a slot)."""
    num_classes, _, dim = centers.shape
    slots = max(1, int(keep.sum(1).max()) if keep.size else 1)
    out = np.zeros((num_classes, slots, dim), dtype=np.float32)
    valid = np.zeros((num_classes, slots), dtype=bool)
    for c in range(num_classes):
        rows = centers[c][keep[c]]
        out[c, :len(rows)] = rows
        valid[c, :len(rows)] = True
    return out, valid


def save_prototypes(proto_dir: str, clusters: Dict[str, np.ndarray], meta: dict) -> None:
    """Write ``centers.npz`` / ``context.npz`` / ``clusters.npz`` / ``meta.json``."""
    for name, pool in (('centers', 'fg'), ('context', 'ctx')):
        centers, valid = selected(clusters[f'{pool}_centers'], clusters[f'{pool}_keep'])
        atomic_save_npz(osp.join(proto_dir, name + '.npz'), centers=centers, valid=valid)
    atomic_save_npz(osp.join(proto_dir, 'clusters.npz'), **clusters)
    meta = dict(meta)
    meta['class_prototypes'] = clusters['fg_keep'].sum(1).astype(int).tolist()
    meta['context_prototypes'] = clusters['ctx_keep'].sum(1).astype(int).tolist()
    atomic_write_json(osp.join(proto_dir, 'meta.json'), meta)


def load_prototype_bank(path: str, num_classes: int, dim: int) -> PrototypeBank:
    """A fixed :class:`PrototypeBank` from ``centers.npz`` / ``context.npz``.

    The bank loads ``centers`` (C, S, D); the file's ``valid`` (C, S) then marks the
    padding slots as never written (the bank's ``load`` makes every slot valid).
    """
    data = load_npz(path, 'prototype file')
    for key in ('centers', 'valid'):
        if key not in data:
            raise KeyError(f'prototype file {path} lacks {key!r} (has {sorted(data)})')
    centers, valid = data['centers'], data['valid']
    if centers.ndim != 3 or centers.shape[0] != num_classes or centers.shape[2] != dim:
        raise ValueError(f'prototype file {path}: centers {centers.shape}, expected '
                         f'({num_classes}, S, {dim}) for this model')
    if valid.shape != centers.shape[:2]:
        raise ValueError(f'prototype file {path}: valid {valid.shape} does not fit centers '
                         f'{centers.shape}')
    bank = PrototypeBank(
        num_classes=num_classes, dim=dim, num_slots=centers.shape[1], update='fixed', path=path)
    bank.count.copy_(torch.from_numpy(valid.astype(np.int64)))
    return bank


def read_meta(proto_dir: str) -> dict:
    path = osp.join(proto_dir, 'meta.json')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'cannot read {path}: {e}') from e


__all__ = [
    'PROTO_FILES', 'save_dump', 'load_dump', 'class_pools', 'cluster_prototypes', 'selected',
    'save_prototypes', 'load_prototype_bank', 'read_meta'
]
