"""Draw the CAMs of a CAM model for a few images: one row per image, one tile per
labelled class (heat map over the photo, ground-truth outline in white).

    python tools/analysis_tools/visualize_cams.py CONFIG CHECKPOINT --out cams.png \
        [--indices 0,1,2] [--split test|pseudo_label] [--data-root DIR] [--tile-width 256]

The CAMs are the model's own predict path (multi-scale, flips, normalisation and
label masking of its test_cfg), so the picture shows exactly what tools/test.py scores.
The drawing is :mod:`mmwsss.visualization.cam_overlay` (also used by CAMVisualizationHook).
"""
import argparse
import sys

import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.registry import DATASETS, MODELS
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import atomic_write_image
from mmwsss.visualization.cam_overlay import draw_cam_samples


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw CAMs of a CAM model')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output image (.png or .jpg)')
    parser.add_argument(
        '--indices',
        default='0,1,2,3,4,5',
        help='comma-separated dataset indices (default: the first six)')
    parser.add_argument(
        '--split',
        choices=['test', 'pseudo_label'],
        default='test',
        help='which dataloader of the config to read images from')
    parser.add_argument('--data-root', help='dataset root used by every dataloader')
    parser.add_argument('--tile-width', type=int, default=256)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise KeyError(f'{args.config} has no {args.split}_dataloader')
    dataset = DATASETS.build(loader['dataset'])
    try:
        indices = [int(i) for i in args.indices.split(',') if i.strip()]
    except ValueError as e:
        raise ValueError(f'--indices must be integers, got {args.indices!r}') from e
    bad = [i for i in indices if not 0 <= i < len(dataset)]
    if bad:
        raise IndexError(f'--indices {bad} outside the {len(dataset)} images of the '
                         f'{args.split} split')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    names = dataset.metainfo['classes']
    samples = []
    for i in indices:
        item = dataset[i]
        data = model.data_preprocessor(
            dict(inputs=[item['inputs']], data_samples=[item['data_samples']]), False)
        with torch.no_grad():
            samples.append(model.predict(data['inputs'], data['data_samples'])[0])
    canvas = draw_cam_samples(samples, names, args.tile_width)
    atomic_write_image(args.out, canvas)
    print(f'{len(samples)} images -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
