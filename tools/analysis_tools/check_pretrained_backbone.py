"""Check the converted ImageNet EfficientNet-Lite weights on real COCO photos.

Picks coco-mini images whose largest annotated category clearly dominates and maps to
ImageNet classes, runs ``EfficientNetLite`` + the converted ImageNet classifier on a
224x224 centre crop and reports top-1 / top-5 hits. With --compare-package it also checks
that our backbone reproduces the efficientnet-lite-pytorch features numerically.

    python tools/model_converters/efficientnet_lite.py \
        checkpoints/efficientnet-lite0_imagenet_mmwsss.pth --keep-head
    python tools/analysis_tools/check_pretrained_backbone.py \
        checkpoints/efficientnet-lite0_imagenet_mmwsss.pth --compare-package
"""
import argparse
import json
import os.path as osp
import sys
import time
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from mmwsss.utils.checkpoint_compat import safe_torch_load

DEFAULT_DATA_ROOT = '/work/shared/data/coco-mini'

# COCO category -> ImageNet-1k class indices that count as a correct prediction.
# Indices checked against torchvision's ImageNet category list.
COCO_TO_IMAGENET: Dict[str, Tuple[int, ...]] = {
    'dog': tuple(range(151, 269)),  # Chihuahua .. Mexican hairless
    'cat': tuple(range(281, 286)),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    'bird': tuple(range(7, 25)) + tuple(range(80, 101)) + tuple(range(127, 147)),
    'zebra': (340, ),
    'elephant': (101, 385, 386),  # tusker, Indian / African elephant
    'bear': (294, 295, 296, 297),  # brown, American black, ice, sloth bear
    'horse': (339, 603),  # sorrel, horse cart
    'sheep': (348, 349),  # ram, bighorn
    'cow': (345, 346, 347),  # ox, water buffalo, bison
    'teddy bear': (850, ),
    'pizza': (963, ),
    'banana': (954, ),
    'broccoli': (937, ),
    'orange': (950, ),
    'airplane': (404, 895, 908),  # airliner, warplane, wing
    'bus': (654, 779, 874),  # minibus, school bus, trolleybus
    'train': (466, 547, 565, 705, 820, 829),  # bullet train .. streetcar
    'motorcycle': (665, 670),  # moped, motor scooter
    'bicycle': (444, 671),  # bicycle-built-for-two, mountain bike
    'toilet': (861, ),  # toilet seat
    'keyboard': (508, 810, 878),  # computer keyboard, space bar, typewriter keyboard
    'laptop': (620, 681),  # laptop, notebook
    'tv': (664, 782, 851),  # monitor, screen, television
    'clock': (409, 530, 892),  # analog, digital, wall clock
    'umbrella': (879, ),
}


def imagenet_categories() -> List[str]:
    """The 1000 ImageNet class names (offline, from torchvision's weight metadata)."""
    from torchvision.models import ResNet50_Weights
    return list(ResNet50_Weights.IMAGENET1K_V1.meta['categories'])


def select_images(data_root: str = DEFAULT_DATA_ROOT,
                  splits: Sequence[str] = ('train2017', 'val2017'),
                  min_fraction: float = 0.2,
                  max_other_fraction: float = 0.1) -> List[Tuple[str, str]]:
    """(image path, COCO category) for photos dominated by one ImageNet-mappable class.

    An image qualifies when its largest category (summed non-crowd instance area) covers
    at least ``min_fraction`` of the image, every other category less than
    ``max_other_fraction``, and the category is in COCO_TO_IMAGENET. Sorted by path.
    """
    picked = []
    for split in splits:
        ann_file = osp.join(data_root, 'annotations', f'instances_{split}.json')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
        with open(ann_file) as f:
            coco = json.load(f)
        names = {c['id']: c['name'] for c in coco['categories']}
        areas: Dict[int, Dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for ann in coco['annotations']:
            if not ann.get('iscrowd', 0):
                areas[ann['image_id']][names[ann['category_id']]] += ann['area']
        for img in coco['images']:
            per_cat = sorted(areas.get(img['id'], {}).items(), key=lambda kv: -kv[1])
            if not per_cat:
                continue
            total = float(img['width'] * img['height'])
            name, area = per_cat[0]
            others = per_cat[1][1] / total if len(per_cat) > 1 else 0.
            if (name in COCO_TO_IMAGENET and area / total >= min_fraction
                    and others < max_other_fraction):
                picked.append((osp.join(data_root, split, img['file_name']), name))
    return sorted(picked)


def load_center_crop(path: str, size: int = 224) -> np.ndarray:
    """RGB (size, size, 3) float32 in [0, 255]: short side resized (bicubic), centre crop."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32)


def to_batch(images: Sequence[np.ndarray], mean: Sequence[float],
             std: Sequence[float]) -> torch.Tensor:
    """List of (H, W, 3) RGB arrays -> normalised (B, 3, H, W) tensor."""
    arr = (np.stack(images) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def build_classifier(checkpoint: str) -> Tuple[nn.Module, nn.Linear]:
    """EfficientNetLite (1280-channel head conv output) + the ImageNet linear layer.

    ``checkpoint`` must come from tools/model_converters/efficientnet_lite.py --keep-head.
    """
    from mmwsss.models.backbones import EfficientNetLite
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint} not found; create it with '
                                'tools/model_converters/efficientnet_lite.py DST --keep-head')
    # weights_only with mmwsss' allow-list; a damaged file is named in the error
    ckpt = safe_torch_load(checkpoint, map_location='cpu')
    if 'imagenet_head' not in ckpt:
        raise KeyError(f"{checkpoint} has no 'imagenet_head'; convert it with --keep-head")
    backbone = EfficientNetLite(
        arch=ckpt.get('meta', {}).get('arch', 'lite0'), out_indices=(8, ), init_cfg=None)
    # strict: every backbone tensor must come from the file (init_cfg loading is lenient)
    backbone.load_state_dict(ckpt['state_dict'], strict=True)
    weight, bias = ckpt['imagenet_head']['weight'], ckpt['imagenet_head']['bias']
    fc = nn.Linear(weight.shape[1], weight.shape[0])
    fc.load_state_dict(dict(weight=weight, bias=bias))
    return backbone.eval(), fc.eval()


@torch.no_grad()
def classify(backbone: nn.Module, fc: nn.Linear, batch: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> ImageNet logits (B, 1000): global average pool + linear."""
    feat = backbone(batch)[-1]
    return fc(feat.mean(dim=(2, 3)))


def topk_hits(logits: torch.Tensor, labels: Sequence[str], k: int = 5) -> List[bool]:
    """Whether any accepted ImageNet class of each COCO label is in the top-k."""
    top = logits.topk(k, dim=1).indices.tolist()
    return [bool(set(t) & set(COCO_TO_IMAGENET[lab])) for t, lab in zip(top, labels)]


@torch.no_grad()
def package_features(batch: torch.Tensor) -> torch.Tensor:
    """Reference features from efficientnet-lite-pytorch (dynamic TF padding)."""
    from efficientnet_lite_pytorch import EfficientNet

    from mmwsss.utils.pretrained import find_packaged_efficientnet_lite0
    ref = EfficientNet.from_pretrained(
        'efficientnet-lite0', weights_path=find_packaged_efficientnet_lite0(), image_size=None)
    return ref.eval().extract_features(batch)


@torch.no_grad()
def benchmark(backbone: nn.Module, size: int = 320, repeats: int = 10) -> float:
    """Median seconds of one forward pass on a (1, 3, size, size) input."""
    x = torch.randn(1, 3, size, size)
    for _ in range(2):  # warm-up: allocator, oneDNN kernel selection
        backbone(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        backbone(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    from mmwsss.utils.pretrained import (DEFAULT_EFFICIENTNET_LITE0_CKPT, EFFICIENTNET_LITE_MEAN,
                                         EFFICIENTNET_LITE_STD)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', nargs='?', default=DEFAULT_EFFICIENTNET_LITE0_CKPT)
    parser.add_argument('--data-root', default=DEFAULT_DATA_ROOT)
    parser.add_argument('--mean', type=float, nargs=3, default=EFFICIENTNET_LITE_MEAN)
    parser.add_argument('--std', type=float, nargs=3, default=EFFICIENTNET_LITE_STD)
    parser.add_argument(
        '--compare-package',
        action='store_true',
        help='also compare features with efficientnet-lite-pytorch')
    parser.add_argument(
        '--benchmark',
        type=int,
        metavar='SIZE',
        default=0,
        help='also time the backbone forward on a SIZE x SIZE image')
    args = parser.parse_args(argv)

    names = imagenet_categories()
    backbone, fc = build_classifier(args.checkpoint)
    picked = select_images(args.data_root)
    batch = to_batch([load_center_crop(p) for p, _ in picked], args.mean, args.std)
    logits = classify(backbone, fc, batch)
    labels = [c for _, c in picked]
    hit1, hit5 = topk_hits(logits, labels, 1), topk_hits(logits, labels, 5)
    probs = logits.softmax(1)
    for (path, cat), p, h5 in zip(picked, probs, hit5):
        top = p.topk(5)
        desc = ', '.join(f'{names[i]} {v:.2f}'
                         for v, i in zip(top.values.tolist(), top.indices.tolist()))
        print(f'{"ok " if h5 else "MISS"} {osp.basename(path)} [{cat}]: {desc}')
    print(f'top-1 {sum(hit1)}/{len(picked)}, top-5 {sum(hit5)}/{len(picked)} '
          f'(mean {list(args.mean)}, std {list(args.std)})')
    if args.compare_package:
        with torch.no_grad():
            ours = backbone(batch[:4])[-1]
        diff = (ours - package_features(batch[:4])).abs().max().item()
        print(f'max |ours - efficientnet-lite-pytorch| on 4 images: {diff:.3g}')
    if args.benchmark:
        from mmwsss.models.backbones import EfficientNetLite
        for os_ in (32, 16):
            model = EfficientNetLite(output_stride=os_, init_cfg=None).eval()
            sec = benchmark(model, args.benchmark)
            print(f'forward {args.benchmark}x{args.benchmark}, output stride {os_}, '
                  f'{torch.get_num_threads()} threads: {sec * 1000:.1f} ms')
    return 0


if __name__ == '__main__':
    sys.exit(main())
