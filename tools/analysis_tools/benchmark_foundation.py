"""Speed of the foundation-model stages on this machine: CLIP-ES CAM generation and
SAM automatic mask generation (images/s), on real coco-mini photos.

    python tools/analysis_tools/benchmark_foundation.py --num-images 4
    python tools/analysis_tools/benchmark_foundation.py --skip-sam --clip-checkpoint ViT-B-16.pt

Weights are random unless checkpoints are given: speed does not depend on the weight
values for CLIP-ES (one forward, one backward per present class). For SAM's automatic
generator it does somewhat: the encoder and the 32x32 point grid through the decoder
are fixed costs, but the mask post-processing grows with the masks that survive the
IoU / stability filters (few with random weights).
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
import torch

COCO_MINI = '/work/shared/data/coco-mini'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Benchmark CLIP-ES and SAM on CPU/GPU')
    p.add_argument('--data-root', default=COCO_MINI)
    p.add_argument('--split', default='val2017')
    p.add_argument('--num-images', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument(
        '--long-side',
        type=int,
        default=0,
        help='resize images to this long side first (0: original size)')
    p.add_argument('--clip-arch', default='ViT-B-16')
    p.add_argument('--clip-checkpoint', default=None)
    p.add_argument('--sam-arch', default='vit_b')
    p.add_argument('--sam-checkpoint', default=None)
    p.add_argument('--points-per-side', type=int, default=32)
    p.add_argument('--skip-clip', action='store_true')
    p.add_argument('--skip-sam', action='store_true')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    return p.parse_args(argv)


def load_images(args):
    """[(RGB uint8 (H, W, 3), fg label indices in COCO's 80-class order)]."""
    import cv2
    with open(osp.join(args.data_root, 'annotations', f'instances_{args.split}.json')) as f:
        coco = json.load(f)
    cat_ids = sorted(c['id'] for c in coco['categories'])
    cat_index = {cid: i for i, cid in enumerate(cat_ids)}
    labels = {}
    for ann in coco['annotations']:
        labels.setdefault(ann['image_id'], set()).add(cat_index[ann['category_id']])
    out = []
    for info in sorted(coco['images'], key=lambda x: x['file_name']):
        if info['id'] not in labels:
            continue
        img = cv2.imread(osp.join(args.data_root, args.split, info['file_name']))
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if args.long_side:
            s = args.long_side / max(img.shape[:2])
            img = cv2.resize(
                img, (round(img.shape[1] * s), round(img.shape[0] * s)),
                interpolation=cv2.INTER_LINEAR)
        out.append((img, sorted(labels[info['id']])))
        if len(out) == args.num_images + args.warmup:
            break
    return out


def bench_clip_es(args, images) -> dict:
    from mmengine.registry import init_default_scope

    from mmwsss.models.foundation import (CLIP_MEAN, CLIP_STD, COCO_CLIP_ES_BG_NAMES,
                                          COCO_CLIP_ES_NAMES)
    from mmwsss.registry import MODELS
    from mmwsss.structures import WSSSDataSample
    init_default_scope('mmwsss')
    model = MODELS.build(
        dict(
            type='CLIPES',
            clip=dict(type='OpenCLIP', arch=args.clip_arch),
            clip_checkpoint=args.clip_checkpoint,
            class_names=COCO_CLIP_ES_NAMES,
            bg_class_names=COCO_CLIP_ES_BG_NAMES,
            box_thr=0.7,
            data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD,
                bgr_to_rgb=False))).to(args.device).eval()
    model.text_embeddings()  # text side once, not per image
    times, n_cls = [], []
    for i, (img, labels) in enumerate(images):
        shape = img.shape[:2]
        sample = WSSSDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, img_labels=labels))
        data = dict(
            inputs=[torch.from_numpy(img).permute(2, 0, 1).contiguous()], data_samples=[sample])
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            model.test_step(data)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            n_cls.append(len(labels))
    return dict(
        stage='CLIP-ES CAM (CAA, 1 scale)',
        arch=args.clip_arch,
        images=len(times),
        mean_classes=float(np.mean(n_cls)),
        sec_per_image=float(np.mean(times)),
        images_per_s=1 / float(np.mean(times)))


def bench_sam(args, images) -> dict:
    from mmwsss.models.foundation import SegmentAnything
    sam = SegmentAnything(
        args.sam_arch,
        checkpoint=args.sam_checkpoint,
        amg_cfg=dict(points_per_side=args.points_per_side),
        device=args.device)
    times, n_masks = [], []
    for i, (img, _) in enumerate(images):
        t0 = time.perf_counter()
        out = sam.generate(img)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            n_masks.append(len(out['masks']))
    return dict(
        stage='SAM automatic masks',
        arch=args.sam_arch,
        points_per_side=args.points_per_side,
        images=len(times),
        mean_masks=float(np.mean(n_masks)),
        sec_per_image=float(np.mean(times)),
        images_per_s=1 / float(np.mean(times)))


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    images = load_images(args)
    sizes = sorted({tuple(im.shape[:2]) for im, _ in images})
    print(f'{len(images)} images ({args.warmup} warm-up) from {args.data_root}/{args.split}, '
          f'sizes {sizes[:3]}..., device {args.device}, {torch.get_num_threads()} threads')
    results = []
    if not args.skip_clip:
        results.append(bench_clip_es(args, images))
        print(json.dumps(results[-1]))
    if not args.skip_sam:
        results.append(bench_sam(args, images))
        print(json.dumps(results[-1]))
    return results


if __name__ == '__main__':
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    main()
