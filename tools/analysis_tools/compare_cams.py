"""CAMs of several methods side by side on the same images, one command.

    python tools/analysis_tools/compare_cams.py --out compare.png \
        --method configs/cam/cam-inhead_...py work_dirs/cam-inhead_coco-mini/iter_300.pth \
        --method SIPE=work_dirs/q9/sipe/sipe_...py work_dirs/q9/sipe/iter_300.pth \
        --from-pipeline work_dirs/benchmark/<row> [more rows ...] \
        [--indices 0,1] [--data-root DIR] [--tile-width 256] [--cfg-options K=V ...]

Columns: the photo, then one per method, in the order given; the title is ``NAME`` of
``NAME=CONFIG`` (or ``NAME=WORK_DIR``), else the algorithm part of the config's file
name (``cam-inhead`` for ``cam-inhead_effnet-lite0_...py``). Rows: one per (image,
labelled class); each tile is the CAM of that class over the photo with the class's
ground truth outlined in white, the tile ``visualize_cams.py`` draws for that model
(:func:`mmwsss.visualization.cam_overlay.overlay_tile`).

- ``--method CONFIG CHECKPOINT``: CHECKPOINT ``none`` for training-free configs.
- ``--from-pipeline WORK_DIR``: a tools/run_pipeline.py / benchmark row; the config of
  its ``seeds/step.json`` (with the ``--cfg-options`` and ``--data-root`` that step ran
  with, evaluator options left out) and the checkpoint of ``stage1/step.json``. A
  missing step.json is an error naming it; a row whose seeds step used no checkpoint
  and has no stage1 is training-free.
- The images are ``--indices`` of the FIRST method's test dataloader (the training
  images in seeds configs); the other methods draw the same files, found by
  ``img_path`` in their own test dataloaders (a method whose split lacks one is an
  error naming the image and the method).
- Each model's CAMs come from its own ``predict`` (multi-scale / flip as its
  ``test_cfg`` says), resized (bilinear) to the photo when they are not at its size.
  One model is held in memory at a time.
- ``--cfg-options`` apply to every method (e.g. ``model.test_cfg.scales=[1.0]``).
"""
import argparse
import gc
import json
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import cv2
import torch
import torch.nn.functional as F
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.registry import DATASETS, MODELS
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import atomic_write_image
from mmwsss.visualization.cam_compare import draw_cam_comparison


@dataclass
class Method:
    """One column: a config, its weights and where it came from (for messages)."""
    name: str
    config: str
    checkpoint: Optional[str]
    cfg_options: Dict = field(default_factory=dict)
    data_root: Optional[str] = None
    source: str = ''


class _AppendSource(argparse.Action):
    """Keeps ``--method`` and ``--from-pipeline`` in one list, in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((option_string, list(values)))
        setattr(namespace, self.dest, items)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='CAMs of several methods side by side')
    parser.add_argument(
        '--method',
        nargs=2,
        metavar=('[NAME=]CONFIG', 'CHECKPOINT'),
        action=_AppendSource,
        dest='sources',
        help='a method config and its checkpoint ("none": training-free); repeatable')
    parser.add_argument(
        '--from-pipeline',
        nargs='+',
        metavar='[NAME=]WORK_DIR',
        action=_AppendSource,
        dest='sources',
        help='pipeline / benchmark work dirs (seeds/step.json config + stage1/step.json '
        'checkpoint)')
    parser.add_argument('--out', required=True, help='output image (.png or .jpg)')
    parser.add_argument(
        '--indices',
        default='0,1',
        help="comma-separated indices of the first method's test "
        'dataset (default: 0,1)')
    parser.add_argument('--data-root', help='dataset root of every method')
    parser.add_argument('--tile-width', type=int, default=256)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='applied to every method')
    args = parser.parse_args(argv)
    if not args.sources:
        parser.error('give at least one --method or --from-pipeline')
    return args


def short_name(config: str) -> str:
    """``cam-inhead`` for ``.../cam-inhead_effnet-lite0_1xb8-300i_....py``."""
    return osp.splitext(osp.basename(config))[0].split('_')[0]


def split_name(spec: str) -> tuple:
    """``NAME=PATH`` -> (NAME, PATH); a plain path -> (None, PATH)."""
    name, sep, path = spec.partition('=')
    if sep and name and '/' not in name and not osp.exists(spec):
        return name, path
    return None, spec


def read_json(path: str) -> dict:
    """A step.json; unreadable JSON is an error naming the file."""
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as e:
        raise ValueError(f'{path} is not valid JSON: {e}') from e


def _recorded_options(command: Sequence[str]) -> tuple:
    """(cfg options, data root) a step's recorded tool command ran with."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--data-root')
    known, _ = parser.parse_known_args(list(command))
    # evaluator options (the sweep's out_file ...) only concern scoring
    options = {k: v for k, v in known.cfg_options.items() if not k.startswith('test_evaluator')}
    return options, known.data_root


def method_from_pipeline(spec: str) -> Method:
    """The seeds config + stage1 checkpoint of a pipeline work dir (see module doc)."""
    name, work_dir = split_name(spec)
    seeds_file = osp.join(work_dir, 'seeds', 'step.json')
    if not osp.isfile(seeds_file):
        raise FileNotFoundError(f'--from-pipeline {work_dir}: {seeds_file} not found (has '
                                'the seeds step of this pipeline run finished?)')
    seeds = read_json(seeds_file)
    config = seeds.get('config')
    if not config or not osp.isfile(config):
        raise FileNotFoundError(f'{seeds_file}: config {config!r} not found (paths are '
                                'relative to the directory the pipeline ran in)')
    command = seeds.get('command') or []
    # [python, test.py, CONFIG, CHECKPOINT?, --work-dir, ...]
    used_ckpt = len(command) > 3 and not str(command[3]).startswith('--')
    stage1_file = osp.join(work_dir, 'stage1', 'step.json')
    checkpoint = None
    if osp.isfile(stage1_file):
        checkpoint = read_json(stage1_file).get('checkpoint')
        if not checkpoint:
            raise ValueError(f'{stage1_file} names no checkpoint')
    elif used_ckpt or osp.isdir(osp.dirname(stage1_file)):
        raise FileNotFoundError(f'--from-pipeline {work_dir}: {stage1_file} not found (has '
                                'the stage1 step of this pipeline run finished?)')
    options, data_root = _recorded_options(command)
    return Method(
        name or short_name(config), config, checkpoint, options, data_root,
        f'--from-pipeline {work_dir}')


def resolve_methods(sources: Sequence[tuple]) -> List[Method]:
    """The methods in command-line order, checkpoints checked up front, names unique."""
    methods: List[Method] = []
    for option, values in sources:
        if option == '--method':
            name, config = split_name(values[0])
            ckpt = None if values[1].lower() == 'none' else values[1]
            if not osp.isfile(config):
                raise FileNotFoundError(f'--method: config file {config} not found')
            methods.append(
                Method(name or short_name(config), config, ckpt, source=f'--method {config}'))
        else:
            methods.extend(method_from_pipeline(spec) for spec in values)
    for m in methods:
        if m.checkpoint is not None and not osp.isfile(m.checkpoint):
            raise FileNotFoundError(f'{m.source}: checkpoint file {m.checkpoint} not found')
    seen: Dict[str, int] = {}
    for m in methods:  # two columns of the same algorithm: cam-inhead, cam-inhead-2
        seen[m.name] = seen.get(m.name, 0) + 1
        if seen[m.name] > 1:
            m.name = f'{m.name}-{seen[m.name]}'
    return methods


def _test_dataset(cfg, method: Method):
    loader = cfg.get('test_dataloader')
    if not loader:
        raise KeyError(f'{method.source}: {method.config} has no test_dataloader')
    return DATASETS.build(loader['dataset'])


def _norm(path: str) -> str:
    return osp.normcase(osp.realpath(path))


def predict_method(method: Method,
                   args: argparse.Namespace,
                   img_paths: Optional[List[str]],
                   indices: Optional[List[int]],
                   classes: Optional[List[List[int]]] = None) -> tuple:
    """Build one method's model, predict the images, free the model.

    Either ``indices`` (the first method) or ``img_paths`` (the others) says which images.

    Args:
        classes: per image the classes whose CAMs are kept (default: the image's
            labelled classes); the others are dropped at once (memory).
    Returns:
        (img_paths, samples, class names): per image a dict(cams {class: (H, W) float
        CAM at the photo's size}, num_cams (C), gt (H, W) or None, img_labels, photo
        (H, W, 3) BGR), and the dataset's class names.
    """
    options = dict(method.cfg_options)
    options.update(args.cfg_options or {})
    cfg = load_config(method.config, options, args.data_root or method.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    dataset = _test_dataset(cfg, method)
    if indices is not None:
        bad = [i for i in indices if not 0 <= i < len(dataset)]
        if bad:
            raise IndexError(f'--indices {bad} outside the {len(dataset)} images of the test '
                             f'split of {method.config} (the first method)')
        img_paths = [dataset.get_data_info(i)['img_path'] for i in indices]
    else:
        where = {_norm(dataset.get_data_info(i)['img_path']): i for i in range(len(dataset))}
        missing = [p for p in img_paths if _norm(p) not in where]
        if missing:
            raise KeyError(f'{method.name} ({method.source}): its test split has no image '
                           f'{missing[0]} (drawn from the first method); give methods that '
                           'read the same images')
        indices = [where[_norm(p)] for p in img_paths]
    model = MODELS.build(cfg.model)
    if method.checkpoint is not None:
        load_checkpoint_strict(model, method.checkpoint, map_location='cpu')
    else:
        print(f'[compare_cams] {method.name}: no checkpoint, weights as the config builds them')
    model.to(args.device).eval()
    samples = []
    try:
        for k, i in enumerate(indices):
            item = dataset[i]
            data = model.data_preprocessor(
                dict(inputs=[item['inputs']], data_samples=[item['data_samples']]), False)
            with torch.no_grad():
                sample = model.predict(data['inputs'], data['data_samples'])[0]
            if 'cams' not in sample:
                raise KeyError(f'{method.name} ({method.config}): {type(model).__name__}.predict '
                               'returned no "cams": use a CAM model (or predict_source="cam")')
            photo = cv2.imread(sample.metainfo['img_path'])
            if photo is None:
                raise IOError(f'cannot read image {sample.metainfo["img_path"]}')
            labels = list(sample.metainfo['img_labels'])
            keep = labels if classes is None else list(classes[k])
            num_cams = sample.cams.data.shape[0]
            bad = [c for c in keep if not 0 <= c < num_cams]
            if bad:
                raise ValueError(f'{method.name} ({method.config}) gives {num_cams} CAMs for '
                                 f'{sample.metainfo["img_path"]}, which has no class {bad}: '
                                 'the methods must share a label space')
            cams = sample.cams.data[keep].float().cpu()
            if tuple(cams.shape[-2:]) != tuple(photo.shape[:2]):
                cams = F.interpolate(
                    cams[None], photo.shape[:2], mode='bilinear', align_corners=False)[0]
            gt = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
            samples.append(
                dict(
                    cams=dict(zip(keep, cams)),
                    num_cams=num_cams,
                    gt=gt,
                    img_labels=labels,
                    photo=photo))
    finally:
        del model  # one model in memory at a time
        gc.collect()
    return img_paths, samples, dataset.metainfo['classes']


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        indices = [int(i) for i in args.indices.split(',') if i.strip()]
    except ValueError as e:
        raise ValueError(f'--indices must be integers, got {args.indices!r}') from e
    methods = resolve_methods(args.sources)
    img_paths, first, names = predict_method(methods[0], args, None, indices)
    per_method = [first]
    for method in methods[1:]:
        _, samples, _ = predict_method(method, args, img_paths, None,
                                       [ref['img_labels'] for ref in first])
        for path, s, ref in zip(img_paths, samples, first):
            if s['num_cams'] != ref['num_cams']:
                raise ValueError(f'{method.name} ({method.config}) gives {s["num_cams"]} '
                                 f'CAMs for {path}, {methods[0].name} {ref["num_cams"]}: '
                                 'the methods must share a label space')
        per_method.append(samples)
    images = []
    for k, ref in enumerate(first):
        classes = ref['img_labels']
        images.append(
            dict(
                img=ref['photo'],
                classes=classes,
                cams=[m[k]['cams'] for m in per_method],
                gts=[m[k]['gt'] for m in per_method]))
    canvas = draw_cam_comparison(images, [m.name for m in methods], names, args.tile_width)
    atomic_write_image(args.out, canvas)
    rows = sum(len(i['classes']) for i in images)
    print(f'{len(methods)} methods x {len(images)} images ({rows} rows) -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
