"""PBIP's sub-class prototype bank: per-class images -> frozen encoder -> KMeans centres.

Two steps (QingchenTang/PBIP ``features/excract_medclip_proces.py`` and
``features/k_mean_cos_per_class.py``)::

    # (coco-mini only) per-class prototype images: the GT-mask box of every class in every
    # TRAINING image of a VOC-layout dataset (histology users bring curated proto images)
    python3 tools/pbip_prototypes.py crop /tmp/mmwsss_cache/coco-mini-voc \
        work_dirs/pbip_prototypes/coco-mini-voc_images
    # encode every image of <proto_dir>/<CLASS>/ with the config's frozen encoder, KMeans
    # k = 3 per class (seed 42, 100 iterations) on L2-normalised features (cosine k-means),
    # L2-normalised centres, saved as a pickle-free .npz: protos (C, k, D), classes
    python3 tools/pbip_prototypes.py build CONFIG work_dirs/pbip_prototypes/coco-mini-voc_images \
        work_dirs/pbip_prototypes/coco-mini-voc_dinov2-vits14_k3.npz

PBIP min-max normalises each proto image to [0, 1] before the encoder; so does ``build``.
Class folders are matched to the config's dataset classes by name (background excluded).
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
import torch
from PIL import Image


def crop(data_root: str, out_dir: str, split: str = 'train', min_side: int = 16) -> int:
    """Write ``out_dir/<class>/<id>.png``: the box of each class's GT pixels per image."""
    from mmwsss.datasets.class_names import VOC_CLASSES

    # ``split``: a split name under ImageSets/Segmentation, or the path of an id list
    path = split if osp.isfile(split) else osp.join(data_root, 'ImageSets', 'Segmentation',
                                                    f'{split}.txt')
    ids = open(path).read().split()
    n = 0
    for i in ids:
        img = np.array(Image.open(osp.join(data_root, 'JPEGImages', i + '.jpg')).convert('RGB'))
        seg = np.array(Image.open(osp.join(data_root, 'SegmentationClass', i + '.png')))
        for c in np.unique(seg):
            if c == 0 or c == 255:
                continue
            ys, xs = np.nonzero(seg == c)
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            if min(y1 - y0, x1 - x0) < min_side:
                continue
            folder = osp.join(out_dir, VOC_CLASSES[c])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(img[y0:y1, x0:x1]).save(osp.join(folder, i + '.png'))
            n += 1
    return n


def _encoder_from_config(config: str):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmwsss.registry import MODELS
    from mmwsss.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    terms = [t for t in cfg.model.loss_terms if t['type'] == 'PBIPMatchingTerm']
    if not terms:
        raise KeyError(f'{config}: no PBIPMatchingTerm in model.loss_terms')
    classes = cfg.train_dataloader.dataset.get('metainfo', {}).get('classes')
    if classes is None:
        from mmwsss.registry import DATASETS
        ds_cls = DATASETS.get(cfg.train_dataloader.dataset['type'])
        classes = ds_cls.METAINFO.get('classes')
        if classes is None and hasattr(ds_cls, 'label_spaces'):
            classes = None
    if classes is None:
        from mmwsss.datasets.class_names import VOC_CLASSES
        classes = VOC_CLASSES
    k = cfg.model.cam_heads['cam4'].get('num_subclasses', 3)
    return MODELS.build(terms[0]['encoder']), list(classes[1:]), int(k)


@torch.no_grad()
def build(config: str, proto_dir: str, out: str, seed: int = 42, max_iter: int = 100) -> dict:
    from sklearn.cluster import KMeans

    from mmwsss.utils.io import atomic_save_npz
    encoder, classes, k = _encoder_from_config(config)
    size = encoder.input_size or 224
    centres = []
    for name in classes:
        folder = osp.join(proto_dir, name)
        files = sorted(f for f in os.listdir(folder)) if osp.isdir(folder) else []
        if not files:
            raise ValueError(f'{folder}: no prototype images for class {name}')
        # fewer images than clusters (coco-mini's rare classes): each image also enters
        # flipped left-right and up-down, so that KMeans has >= k points (a marked choice)
        few = len(files) < k
        feats = []
        for j in range(0, len(files), 16):
            batch = []
            for f in files[j:j + 16]:
                img = Image.open(osp.join(folder, f)).convert('RGB').resize((size, size),
                                                                            Image.BILINEAR)
                x = torch.from_numpy(np.asarray(img, np.float32)).permute(2, 0, 1)
                x = (x - x.min()) / (x.max() - x.min() + 1e-8)  # PBIP's min-max input
                batch.append(x)
                if few:
                    batch += [x.flip(-1), x.flip(-2)]
            feats.append(encoder(torch.stack(batch)))
            print(f'  {name}: {min(j + 16, len(files))}/{len(files)}', flush=True)
        f = torch.nn.functional.normalize(torch.cat(feats), dim=1).numpy().astype(np.float64)
        km = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed).fit(f)
        c = km.cluster_centers_
        centres.append(c / np.linalg.norm(c, axis=1, keepdims=True))
    protos = np.stack(centres).astype(np.float32)  # (C, k, D)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_save_npz(out, protos=protos, classes=np.array(classes))
    return dict(shape=protos.shape, out=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('crop', help='per-class GT-box crops of a VOC-layout training split')
    c.add_argument('data_root')
    c.add_argument('out_dir')
    c.add_argument('--split', default='train', help='split name or id-list file')
    b = sub.add_parser('build', help='encode + per-class KMeans -> .npz prototype file')
    b.add_argument('config')
    b.add_argument('proto_dir')
    b.add_argument('out')
    b.add_argument('--seed', type=int, default=42)
    args = parser.parse_args(argv)
    if args.cmd == 'crop':
        print(f'{crop(args.data_root, args.out_dir, args.split)} crops in {args.out_dir}')
    else:
        res = build(args.config, args.proto_dir, args.out, seed=args.seed)
        print(f"prototypes {res['shape']} -> {res['out']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
