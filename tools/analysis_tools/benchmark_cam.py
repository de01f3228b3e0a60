"""Benchmark multi-scale CAM generation against the backbone forward alone.

    python tools/analysis_tools/benchmark_cam.py CONFIG [CHECKPOINT] [--num-images 8]
        [--size 320] [--threads 2] [--device cpu] [--json OUT]

Reads real images from the config's ``pseudo_label_dataloader`` (else test), resized
so the long side is ``--size``, and reports for the same images:

- backbone: one forward of ``model.extract_feat`` per image (no flips, one scale);
- cams: ``model.predict_cams`` with the config's CAM settings (scales x flips,
  merges, resize to the original size, normalisation);

as images/s and peak memory: CUDA peak allocated on GPU; on CPU the peak resident
set size growth of this process (``resource.getrusage`` high-water mark, sampled
before and after each phase; the backbone runs first so the CAM number includes
the backbone's working set, which is what a user needs to budget).
"""
import argparse
import json
import resource
import time

import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmwsss  # noqa: F401
from mmwsss.registry import DATASETS, MODELS
from mmwsss.structures import WSSSDataSample


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?')
    p.add_argument('--num-images', type=int, default=8)
    p.add_argument('--size', type=int, default=320, help='long side of the input')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--amp', action='store_true', help='autocast (fp16 on CUDA, bf16 on CPU)')
    p.add_argument('--json')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_images(cfg, n, size):
    loader = cfg.get('pseudo_label_dataloader') or cfg.test_dataloader
    dataset = DATASETS.build(loader['dataset'])
    items = []
    for i in range(min(n, len(dataset))):
        info = dataset.get_data_info(i)
        img = mmcv.imread(info['img_path'], channel_order='rgb')
        img = mmcv.imrescale(img, (size, size))
        labels = np.flatnonzero(info['gt_img_label']).tolist()
        items.append((img, labels, info['gt_img_label']))
    return items


def to_batch(model, img, labels, multi_hot, device):
    h, w = img.shape[:2]
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None].to(device)
    pre = model.data_preprocessor
    x = (x - pre.mean.to(device)) / pre.std.to(device)
    s = WSSSDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), img_labels=labels))
    s.gt_img_label = torch.as_tensor(multi_hot).float()
    return x, [s]


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    if not args.checkpoint:  # no weights needed for a speed test
        cfg.model.backbone.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(args.device).eval()
    items = load_images(cfg, args.num_images, args.size)
    batches = [to_batch(model, *it, args.device) for it in items]
    dtype = torch.float16 if args.device.startswith('cuda') else torch.bfloat16
    results = {}
    with torch.no_grad(), torch.autocast(args.device.split(':')[0], dtype=dtype, enabled=args.amp):
        model.extract_feat(batches[0][0])  # warm-up
        for name, fn in (('backbone', lambda x, s: model.extract_feat(x)),
                         ('cams', lambda x, s: model.predict_cams(x, s))):
            if args.device.startswith('cuda'):
                torch.cuda.reset_peak_memory_stats()
            before = rss_mb()
            sync(args.device)
            t0 = time.perf_counter()
            for x, s in batches:
                fn(x, s)
            sync(args.device)
            dt = time.perf_counter() - t0
            mem = torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith(
                'cuda') else rss_mb()
            results[name] = dict(
                images_per_s=len(batches) / dt,
                seconds=dt,
                peak_mem_mb=mem,
                rss_growth_mb=rss_mb() - before)
    cam_cfg = {k: model.cam_cfg[k] for k in ('scales', 'flip', 'flip_merge', 'scale_merge')}
    print(f'{len(batches)} images, long side {args.size}, device {args.device}, '
          f'threads {args.threads}, amp {args.amp}, CAM settings {cam_cfg}')
    print(f'{"phase":<10}{"images/s":>10}{"peak MB":>10}')
    for k, v in results.items():
        print(f'{k:<10}{v["images_per_s"]:>10.2f}{v["peak_mem_mb"]:>10.0f}')
    print(f'multi-scale CAM / backbone time: '
          f'{results["cams"]["seconds"] / results["backbone"]["seconds"]:.1f}x')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    size=args.size,
                    device=args.device,
                    cam_cfg=cam_cfg,
                    results=results),
                f,
                indent=2)


if __name__ == '__main__':
    main()
