"""CARB end to end on real coco-mini photos: real EfficientNet-Lite0, random tiny CLIP.

Two iterations through tools/train.py, the second past the (shortened) warm-up so that
the region-balancing branch (and/vit split, queue coefficient) runs; then tools/test.py
scores the saved checkpoint on two val images.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/carb/carb_effnet-lite0-tiny-clip-random_1xb4-300i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_carb_trains_and_is_evaluated(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'carb')
    loaders = [f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS]
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                   'train_dataloader.batch_size=2', f'train_dataloader.dataset.ann_file={train}',
                   f'val_dataloader.dataset.ann_file={val}', *loaders,
                   'model.loss_terms.0.warmup_iter=1', 'param_scheduler.0.end=2',
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    assert 'carb.loss_full' in out and 'carb.loss_patch' in out
    # iteration 2 (counter 2 > warm-up 1) ran the balancing branch
    assert 'carb.coeff' in out and 'carb.l_vit' in out
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'test'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={val}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
