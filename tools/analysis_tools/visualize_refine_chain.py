"""Each step of a config's refine chain for one image, side by side.

    python tools/analysis_tools/visualize_refine_chain.py CONFIG CHECKPOINT --index I \
        --out chain.png [--data-root DIR] [--tile-width 256] [--bg-thr T] [--device cpu] \
        [--cfg-options K=V ...]

Tiles, each titled: the photo; the raw CAM label (``cam_to_label`` at the chain's
``bg_thr``); the label after each refiner of ``pseudo_label_cfg.refiners``, in order
(CRF, PAR, random walk, SAM, ...); the ground truth when the dataset has masks. Labels
are coloured with the dataset palette (VOC colours), 255 (ignore) in VOC's border
colour. CHECKPOINT may be ``none`` (training-free models).

The image is ``--index`` of the pseudo-label dataloader (as tools/generate_pseudo_labels.py,
whose ``--bg-thr`` this ``--bg-thr`` mirrors), the CAMs the model's ``test_step``, and
the refiners run one by one on the state dict :class:`RefineChain` passes along (built
as :func:`mmwsss.apis.pseudo_labels.write_one` builds it), each tile being
``final_label`` of the state so far: the last tile is the label PNG
generate_pseudo_labels writes for the image. A config without refiners draws the CAM
label and the ground truth only (and says so).
"""
import argparse
import os.path as osp
import sys
from typing import List, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.apis.pseudo_labels import build_pseudo_label_dataset, build_refine_chain, load_rgb
from mmwsss.models.refiners import RefineChain
from mmwsss.models.refiners.base import check_state, final_label
from mmwsss.models.utils.cam import cam_to_label, check_cams
from mmwsss.registry import MODELS
from mmwsss.structures import stack_img_labels
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import atomic_write_image
from mmwsss.visualization.cam_compare import draw_label_row


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw each step of a refine chain')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the CAM model\'s weights ("none": training-free)')
    parser.add_argument(
        '--index', type=int, required=True, help='index in the pseudo-label dataset')
    parser.add_argument('--out', required=True, help='output image (.png or .jpg)')
    parser.add_argument('--data-root', help='dataset root used by every dataloader')
    parser.add_argument('--tile-width', type=int, default=256)
    parser.add_argument('--bg-thr', type=float, help="overrides the chain's bg_thr")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def refine_steps(sample,
                 chain: RefineChain,
                 device: Union[str, torch.device] = 'cpu') -> List[Tuple[str, np.ndarray]]:
    """The hard label of a predicted sample before and after each refiner.

    Args:
        sample: a data sample with ``cams`` (C, H, W) at the original image size.
        chain: the refine chain (on ``device``).
    Returns:
        [(title, (H, W) int64 label)]: ``CAM (bg_thr T)``, then ``k. <refiner type>``
        per refiner (``final_label`` of the state after it).
    """
    if 'cams' not in sample:
        raise KeyError(f'predict returned no "cams" for {sample.img_path}: use a CAM model '
                       '(or predict_source="cam")')
    # the state write_one hands to RefineChain.forward
    cams = sample.cams.data.float()[None].to(device)
    labels = stack_img_labels([sample], cams.shape[1], device)
    check_cams(cams, labels, where=f'image {sample.img_path}')
    img = load_rgb(sample.img_path, cams.shape[-2:]).to(device)
    state = dict(img=img, cams=cams, img_labels=labels, meta=[sample.metainfo])
    check_state(state)
    steps = [(f'CAM (bg_thr {chain.bg_thr:g})', cam_to_label(cams, labels, bg_thr=chain.bg_thr))]
    for k, refiner in enumerate(chain.refiners, 1):
        state = refiner(state)  # RefineChain.forward's loop, one refiner at a time
        steps.append((f'{k}. {type(refiner).__name__}', final_label(state, chain.bg_thr)))
    return [(title, label[0].cpu().numpy().astype(np.int64)) for title, label in steps]


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    dataset, _ = build_pseudo_label_dataset(cfg)
    if not 0 <= args.index < len(dataset):
        raise IndexError(f'--index {args.index} outside the {len(dataset)} images of the '
                         f'pseudo-label split of {args.config}')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint_strict(model, checkpoint, map_location='cpu')
    model.to(args.device).eval()
    chain = build_refine_chain(cfg, bg_thr=args.bg_thr).to(args.device)
    with torch.no_grad():
        sample = model.test_step(pseudo_collate([dataset[args.index]]))[0]
        steps = refine_steps(sample, chain, args.device)
    if 'gt_sem_seg' in sample:
        steps.append(('ground truth', sample.gt_sem_seg.data[0].cpu().numpy()))
    else:
        print('[refine chain] the dataset gives no ground truth for this image: no GT tile')
    if not len(chain.refiners):
        print(f'[refine chain] {args.config} has no pseudo_label_cfg.refiners: drawing the '
              'CAM label and the ground truth only')
    photo = cv2.imread(sample.img_path)
    if photo is None:
        raise IOError(f'cannot read image {sample.img_path}')
    canvas = draw_label_row(photo, steps, dataset.metainfo['palette'], args.tile_width)
    atomic_write_image(args.out, canvas)
    print(f'{sample.img_path}: {" -> ".join(t for t, _ in steps)} -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
