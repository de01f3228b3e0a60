"""The offline prototype path of LPCAM: feature dump -> clustering -> prototype CAMs.

    python tools/make_prototype_cams.py CONFIG CAM_CHECKPOINT --work-dir DIR \
        [--steps dump cluster cams] [--data-root ROOT] [--cfg-options ...]

CONFIG is an LPCAM config (configs/lpcam/): a CAM classifier config with
``model.type='LPCAMClassifier'``, ``prototype_cfg`` (clustering settings) and
``prototype_dump_dataloader`` (the images the prototypes are clustered from).
CAM_CHECKPOINT is the trained CAM classifier (loaded strictly).

Steps (each resumes; ``--overwrite`` redoes it):

1. ``dump``: for every image of ``prototype_dump_dataloader`` (COCO: only the
   ``images_per_class`` sample, seed ``sample_seed``), the single-scale feature the
   CAM head sees and the classifier's multi-scale CAM (IRN's ``make_cam``, the
   selection mask) of its classes -> ``DIR/features/<key>.npz``. ``--cam-dir D`` takes
   the masks from ``D/<key>.npz`` instead (the ``cams`` folder that
   tools/generate_pseudo_labels.py ``--save-cams`` writes), e.g. another method's CAMs.
2. ``cluster``: per class, cosine k-means (scikit-learn, seeded) of the fg and context
   pools and the classifier-softmax selection -> ``DIR/prototypes/`` (centers.npz,
   context.npz, clusters.npz, meta.json).
3. ``cams``: the LPCAM of every image of ``pseudo_label_dataloader`` through
   tools/generate_pseudo_labels.py (no refinement) -> ``DIR/lpcam/<key>.png`` (seeds
   at ``model.test_cfg.bg_thr``) and ``DIR/lpcam/cams/<key>.npz`` (the CAM format of
   the project).

Then the seeds are scored with ``tools/test.py CONFIG CAM_CHECKPOINT --cfg-options
model.prototype_dir=DIR/prototypes`` and refined by IRN with configs/lpcam/irn-*.

Writes are atomic (temporary file + rename); a dump file that exists is skipped;
temporary files of a killed run are removed at the start. Errors name the file.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader
from torch.utils.data import Subset as TorchSubset

from mmwsss.models.prototypes.lpcam import LPCAM_DEFAULTS, sample_images_per_class
from mmwsss.models.prototypes.offline import (PROTO_FILES, cluster_prototypes, save_dump,
                                              save_prototypes)
from mmwsss.registry import DATASETS, MODELS
from mmwsss.structures import stack_img_labels
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import output_key, read_cams_npz, remove_stale_temp_files

STEPS = ('dump', 'cluster', 'cams')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='LPCAM offline prototype path')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the trained CAM classifier')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--steps', nargs='+', choices=STEPS, default=list(STEPS))
    parser.add_argument('--cam-dir', help='selection masks from <cam-dir>/<key>.npz instead')
    parser.add_argument('--overwrite', action='store_true', help='redo finished work')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: auto)')
    parser.add_argument('--data-root', help='dataset root used by every dataloader')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='key=value pairs')
    args = parser.parse_args(argv)
    # kept as strings too: the cams step hands them to tools/generate_pseudo_labels.py
    args.cfg_options_raw = list(args.cfg_options)
    opts = argparse.ArgumentParser()
    opts.add_argument('--o', nargs='+', action=DictAction)
    args.cfg_options = opts.parse_args(['--o', *args.cfg_options]).o if args.cfg_options \
        else None
    return args


def prototype_settings(cfg) -> dict:
    """``cfg.prototype_cfg`` over the defaults of its ``dataset`` ('voc' | 'coco')."""
    user = dict(cfg.get('prototype_cfg', None) or {})
    base = dict(LPCAM_DEFAULTS[user.pop('dataset', 'voc')])
    base.update(dict(seed=0, keep_best=True, kmeans=dict(), feat_dtype='float32'))
    unknown = set(user) - set(base)
    if unknown:
        raise KeyError(f'prototype_cfg: unknown keys {sorted(unknown)} (known: {sorted(base)})')
    base.update(user)
    return base


def dataset_keys(dataset) -> List[str]:
    root = (getattr(dataset, 'data_prefix', None) or {}).get('img_path')
    keys = [output_key(dataset.get_data_info(i)['img_path'], root) for i in range(len(dataset))]
    if len(set(keys)) != len(keys):
        raise ValueError('two images of the dump split have the same output key')
    return keys


def image_labels(dataset) -> np.ndarray:
    rows = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if info.get('gt_img_label') is None:
            raise ValueError(f'image {info["img_path"]} has no image labels; the prototypes '
                             'are clustered per labelled class')
        rows.append(np.asarray(info['gt_img_label']))
    return np.stack(rows, 0) > 0


def class_members(labels: np.ndarray, per_class: Optional[int], seed: int) -> Dict[int, list]:
    """{class: dataset indices whose dumps form its pools} (with repeats when sampled)."""
    if per_class:
        picks = sample_images_per_class(labels, per_class, seed)
        return {c: [int(i) for i in row if i >= 0] for c, row in enumerate(picks)}
    return {c: np.nonzero(labels[:, c])[0].tolist() for c in range(labels.shape[1])}


def build_model(cfg, args, device):
    model = MODELS.build(cfg.model)
    load_checkpoint_strict(model, args.checkpoint, map_location='cpu')
    if not hasattr(model, 'head_features'):
        raise TypeError(f'{args.config}: model.type must be LPCAMClassifier (got '
                        f'{type(model).__name__})')
    return model.to(device).eval()


def run_dump(cfg, args, model, device, dataset, keys, todo, dump_dir) -> int:
    loader_cfg = cfg.prototype_dump_dataloader
    dtype = prototype_settings(cfg)['feat_dtype']
    key_of = {dataset.get_data_info(i)['img_path']: keys[i] for i in todo}
    loader = DataLoader(
        TorchSubset(dataset, todo),
        batch_size=1,
        shuffle=False,
        num_workers=loader_cfg.get('num_workers', 0),
        collate_fn=pseudo_collate)
    progress = ProgressBar(len(todo))
    written = 0
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs, samples = data['inputs'], data['data_samples']
            for i, sample in enumerate(samples):
                key = key_of[sample.img_path]
                h, w = sample.metainfo['img_shape'][:2]
                x = inputs[i:i + 1, :, :h, :w]
                feat = model.head_features(x)[0]
                labels = stack_img_labels([sample], model.cam_head.num_classes, x.device)
                cls = labels[0].nonzero().flatten().tolist()
                if args.cam_dir:
                    cam = mask_from_folder(args.cam_dir, key, cls, sample)
                else:
                    cam = model.predict_classifier_cams(x, [sample])[0][cls]
                save_dump(osp.join(dump_dir, key + '.npz'), feat, cls, cam, dtype)
                written += 1
                progress.update()
    sys.stdout.write('\n')
    return written


def mask_from_folder(cam_dir: str, key: str, cls: List[int], sample) -> torch.Tensor:
    path = osp.join(cam_dir, key + '.npz')
    data = read_cams_npz(path)
    order = {int(k): j for j, k in enumerate(data['keys'].tolist())}
    missing = [c for c in cls if c not in order]
    if missing:
        raise ValueError(f'CAM file {path} has no map for classes {missing} of image '
                         f'{sample.img_path} (keys {sorted(order)})')
    return torch.from_numpy(data['cams'][[order[c] for c in cls]].astype(np.float32))


def run_cams(cfg_path: str, args, proto_dir: str, out_dir: str) -> dict:
    spec = importlib.util.spec_from_file_location(
        '_generate_pseudo_labels',
        osp.join(osp.dirname(osp.abspath(__file__)), 'generate_pseudo_labels.py'))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    argv = [cfg_path, args.checkpoint, '--out-dir', out_dir, '--save-cams', '--no-refine']
    if args.data_root:
        argv += ['--data-root', args.data_root]
    if args.device:
        argv += ['--device', args.device]
    if args.overwrite:
        argv.append('--overwrite')
    argv += ['--cfg-options', *args.cfg_options_raw, f'model.prototype_dir={proto_dir}']
    return gen.main(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = prototype_settings(cfg)
    dump_dir = osp.join(args.work_dir, 'features')
    proto_dir = osp.join(args.work_dir, 'prototypes')
    summary = {}
    if 'dump' in args.steps or 'cluster' in args.steps:
        if 'prototype_dump_dataloader' not in cfg:
            raise KeyError(f'{args.config} has no prototype_dump_dataloader')
        dataset = DATASETS.build(cfg.prototype_dump_dataloader['dataset'])
        keys = dataset_keys(dataset)
        members = class_members(
            image_labels(dataset), settings['images_per_class'], settings['sample_seed'])
        needed = sorted({i for idx in members.values() for i in idx})
        model = build_model(cfg, args, device)
    if 'dump' in args.steps:
        os.makedirs(dump_dir, exist_ok=True)
        stale = remove_stale_temp_files(dump_dir)
        if stale:
            print(f'[prototypes] removed {len(stale)} temporary file(s) of an interrupted run')
        todo = [
            i for i in needed
            if args.overwrite or not osp.exists(osp.join(dump_dir, keys[i] + '.npz'))
        ]
        print(
            f'[prototypes] dump: {len(needed)} images, {len(needed) - len(todo)} already '
            f'written, {len(todo)} to do -> {dump_dir}',
            flush=True)
        summary['dumped'] = run_dump(cfg, args, model, device, dataset, keys, todo,
                                     dump_dir) if todo else 0
    if 'cluster' in args.steps:
        done = all(osp.exists(osp.join(proto_dir, f)) for f in PROTO_FILES)
        if done and not args.overwrite:
            print(f'[prototypes] {proto_dir} exists (--overwrite re-clusters)')
        else:
            os.makedirs(proto_dir, exist_ok=True)
            class_dumps = {
                c: [osp.join(dump_dir, keys[i] + '.npz') for i in idx]
                for c, idx in members.items()
            }
            absent = [p for ps in class_dumps.values() for p in ps if not osp.exists(p)]
            if absent:
                raise FileNotFoundError(f'{len(absent)} feature dump(s) missing, e.g. '
                                        f'{absent[0]}: run --steps dump first')
            rule = {
                k: settings[k]
                for k in ('num_clusters', 'select_thres', 'class_thres', 'context_thres',
                          'context_thres_low', 'keep_best', 'seed')
            }
            clusters = cluster_prototypes(
                class_dumps, model.classifier_weight().cpu(), kmeans_cfg=settings['kmeans'], **rule)
            import sklearn
            meta = dict(
                settings,
                config=args.config,
                checkpoint=args.checkpoint,
                sklearn=sklearn.__version__,
                images={
                    str(c): len(p)
                    for c, p in class_dumps.items()
                })
            save_prototypes(proto_dir, clusters, meta)
            print(f'[prototypes] written {proto_dir}')
        summary['prototypes'] = proto_dir
    if 'cams' in args.steps:
        summary['cams'] = run_cams(args.config, args, proto_dir, osp.join(args.work_dir, 'lpcam'))
    return summary


if __name__ == '__main__':
    print(f'[prototypes] done: {main()}')
