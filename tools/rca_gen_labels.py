"""RCA's pseudo labels from the attention maps accumulated during training.

    python tools/rca_gen_labels.py ATT_DIR IMG_DIR OUT_DIR [--saliency-dir SAL_DIR]
        [--split LIST.txt] [--workers N]

ATT_DIR holds ``<image stem>_<class>.png`` (written by ``RCAAttentionTerm``; class 0-based
foreground). Each map is resized (bilinear) to its image, then
``mmwsss.models.utils.rca_labels.rca_pseudo_label`` runs (CRF with bg = (1 - max)^4, the
saliency rules when ``--saliency-dir`` holds ``<stem>.png``, the 1 % foreground rule, as
maeve07/RCA gen_labels.py). The saliency maps are optional here: the official script always
reads them (PoolNet saliency, its issue #10). Outputs are VOC-palette PNGs
``OUT_DIR/<stem>.png``, written atomically; images whose output exists are skipped, so a
killed run resumes. Score them with tools/eval_pseudo_labels.py.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

_NAME = re.compile(r'^(?P<stem>.+)_(?P<cls>\d+)\.png$')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('att_dir')
    p.add_argument('img_dir')
    p.add_argument('out_dir')
    p.add_argument('--saliency-dir', default=None, help='optional <stem>.png saliency maps')
    p.add_argument('--split', default=None, help='image ids to label (default: all in ATT_DIR)')
    p.add_argument('--img-ext', default='.jpg')
    p.add_argument('--workers', type=int, default=1)
    return p.parse_args(argv)


def collect(att_dir: str) -> Dict[str, List[int]]:
    """{stem: sorted classes} of the accumulated maps in ``att_dir``."""
    from mmwsss.utils.io import is_temp_name
    found: Dict[str, List[int]] = defaultdict(list)
    for name in os.listdir(att_dir):
        m = _NAME.match(name)
        if m and not is_temp_name(name):
            found[m.group('stem')].append(int(m.group('cls')))
    return {k: sorted(v) for k, v in found.items()}


def label_one(job: Tuple[str, List[int], str, str, str, Optional[str], str]) -> str:
    from mmwsss.datasets import VOC_PALETTE
    from mmwsss.models.utils.rca_labels import rca_pseudo_label
    from mmwsss.utils.io import atomic_write_png
    stem, classes, att_dir, img_dir, out_dir, sal_dir, ext = job
    out = osp.join(out_dir, stem + '.png')
    if osp.isfile(out):
        return 'skipped'
    img_path = osp.join(img_dir, stem + ext)
    if not osp.isfile(img_path):
        raise FileNotFoundError(f'image of the attention maps {stem}_*.png not found: {img_path}')
    img = np.asarray(Image.open(img_path).convert('RGB'))
    h, w = img.shape[:2]
    atts = {}
    for c in classes:
        att = Image.open(osp.join(att_dir, f'{stem}_{c}.png')).convert('L')
        atts[c] = np.asarray(att.resize((w, h), Image.BILINEAR), dtype=np.float32)
    sal = None
    if sal_dir is not None:
        sal_path = osp.join(sal_dir, stem + '.png')
        if not osp.isfile(sal_path):
            raise FileNotFoundError(f'saliency map not found: {sal_path}')
        sal = np.asarray(Image.open(sal_path).convert('L').resize((w, h), Image.BILINEAR))
    label = rca_pseudo_label(img, atts, sal)
    atomic_write_png(out, label, palette=VOC_PALETTE)
    return 'written'


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.utils import track_iter_progress, track_parallel_progress

    from mmwsss.utils.io import remove_stale_temp_files
    found = collect(args.att_dir)
    if args.split:
        with open(args.split) as f:
            ids = [line.split()[0] for line in f if line.strip()]
        stems = [i for i in ids if i in found]
        missing = len(ids) - len(stems)
        if missing:
            print(
                f'{missing} listed images have no attention map and get no label', file=sys.stderr)
    else:
        stems = sorted(found)
    os.makedirs(args.out_dir, exist_ok=True)
    remove_stale_temp_files(args.out_dir)
    jobs = [(s, found[s], args.att_dir, args.img_dir, args.out_dir, args.saliency_dir, args.img_ext)
            for s in stems]
    if args.workers > 1:
        results = track_parallel_progress(label_one, jobs, args.workers)
    else:
        results = [label_one(j) for j in track_iter_progress(jobs)]
    print(f'\n{results.count("written")} written, {results.count("skipped")} already there, '
          f'in {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
