"""S2C's offline step (``get_se_map.py``): SAM "segment everything" index maps.

For every image of the config's training split, SAM's automatic mask generator (the
config's ``s2c_sam``; the paper: vit_h, default parameters) gives its masks, painted into
one int16 index map (-1 = no mask; ``segments_to_index_map``) and written atomically to
``<s2c_segments_dir>/<image stem>.npy``, which ``LoadSAMSegments`` reads in training.
Existing maps are kept, so a killed run resumes where it stopped (``--overwrite`` redoes
them).

    python3 tools/s2c_segment_everything.py CONFIG [--data-root D] [--out-dir DIR] \
        [--shard i/n] [--cfg-options k=v ...]

``--preset fma`` (FMA's SAM quasi-superpixels, configs/fma): the config's ``fma_sam``
(an ``FMASegmentAnything``: FMA's generator settings, per-level offsets, rock-sand-water
filter) runs on every image of ``pseudo_label_dataloader`` (else the training split) and
each image's masks with their levels are written to ``<fma_segments_dir>`` as one
bit-packed ``MaskCache`` entry keyed by the image stem (no pickles;
``mmwsss.models.foundation.fma.save_fma_masks``), which ``FMASAMSRefiner`` reads.
A config ``fma_sam_long_side = N`` caps the image's long side first (CPU configs).
Existing entries are kept (resumable) unless ``--overwrite``.
"""
import argparse
import os
import os.path as osp
import sys
import time

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmwsss.models.foundation.fma import save_fma_masks  # noqa: E402
from mmwsss.models.foundation.mask_cache import MaskCache  # noqa: E402
from mmwsss.models.foundation.s2c_sam import segments_to_index_map  # noqa: E402
from mmwsss.registry import DATASETS, MODELS  # noqa: E402
from mmwsss.utils import register_all_modules  # noqa: E402
from mmwsss.utils.config_utils import set_data_root  # noqa: E402
from mmwsss.utils.io import atomic_write  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('--data-root', help='dataset root of every dataloader of the config')
    p.add_argument(
        '--preset',
        choices=('s2c', 'fma'),
        default='s2c',
        help='s2c: index maps of s2c_sam (default); fma: masks + levels of fma_sam')
    p.add_argument('--out-dir', help='overrides the config s2c_segments_dir / fma_segments_dir')
    p.add_argument('--overwrite', action='store_true', help='redo existing maps')
    p.add_argument('--shard', default='0/1', help='i/n: this process does images i, i+n, ...')
    p.add_argument('--limit', type=int, default=None, help='first N images only (checks)')
    p.add_argument(
        '--seed',
        type=int,
        default=0,
        help='torch seed before SAM is built (random '
        'weights of a checkpoint-free SAM)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def image_paths(cfg, loader: str = 'train_dataloader') -> list:
    """The image paths of a dataloader's dataset (the training split), in order."""
    ds_cfg = cfg[loader].dataset.copy()
    ds_cfg['pipeline'] = []
    dataset = DATASETS.build(ds_cfg)
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    prefix = args.preset
    for key in (f'{prefix}_sam', f'{prefix}_segments_dir'):
        if key not in cfg:
            raise KeyError(f'{args.config} has no {key!r} (an {prefix.upper()} config '
                           'defines both)')
    out_dir = args.out_dir or cfg[f'{prefix}_segments_dir']
    os.makedirs(out_dir, exist_ok=True)
    shard, n_shards = (int(v) for v in args.shard.split('/'))
    loader = 'train_dataloader'
    if prefix == 'fma' and cfg.get('pseudo_label_dataloader'):
        loader = 'pseudo_label_dataloader'  # the split SAMS seeds are made for
    paths = image_paths(cfg, loader)[shard::n_shards]
    if args.limit is not None:
        paths = paths[:args.limit]

    def done_path(p: str) -> str:
        stem = osp.splitext(osp.basename(p))[0]
        if prefix == 'fma':
            return MaskCache(out_dir).path(stem)
        return osp.join(out_dir, stem + '.npy')

    todo = [p for p in paths if args.overwrite or not osp.isfile(done_path(p))]
    print(f'{len(paths)} images, {len(paths) - len(todo)} already done, writing {out_dir}')
    torch.manual_seed(args.seed)
    sam = MODELS.build(cfg[f'{prefix}_sam']) if todo else None
    # fma: optional long-side cap of the image SAM sees (CPU configs; None = full size,
    # as FMA); FMASAMSRefiner resizes the masks to the CAM size (nearest)
    long_side = cfg.get('fma_sam_long_side') if prefix == 'fma' else None
    t0 = time.time()
    for k, path in enumerate(todo):
        img = mmcv.imread(path, channel_order='rgb')  # official plt.imread: RGB uint8
        if img is None:
            raise FileNotFoundError(f'cannot read image {path}')
        if prefix == 'fma':
            if long_side and max(img.shape[:2]) > long_side:
                img = mmcv.imrescale(img, (long_side, long_side), interpolation='bilinear')
            out = sam.generate(np.ascontiguousarray(img))
            save_fma_masks(
                out_dir,
                osp.splitext(osp.basename(path))[0],
                out['masks'],
                out['levels'],
                scores=out['scores'])
            if (k + 1) % 10 == 0 or k + 1 == len(todo):
                print(f'{k + 1}/{len(todo)} {time.time() - t0:.0f}s, last '
                      f'{osp.basename(path)}: {len(out["masks"])} masks')
            continue
        index = segments_to_index_map(sam.generate(np.ascontiguousarray(img))['masks'])
        # int16 (0.6 MB for a VOC image instead of the official int64's 2.4 MB)
        index = index.astype(np.int16 if index.max() < np.iinfo(np.int16).max else np.int32)
        dst = osp.join(out_dir, osp.splitext(osp.basename(path))[0] + '.npy')
        atomic_write(dst, lambda f, a=index: np.save(f, a))
        if (k + 1) % 10 == 0 or k + 1 == len(todo):
            print(f'{k + 1}/{len(todo)} {time.time() - t0:.0f}s, last {osp.basename(path)}: '
                  f'{int(index.max()) + 1} masks')
    return 0


if __name__ == '__main__':
    sys.exit(main())
