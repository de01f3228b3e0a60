"""CPAL end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

Two iterations of the CPU config through tools/train.py (the BCE, L_self and L_fda terms;
the context bank written and saved in the checkpoint), then the PA-CAM seeds of the
checkpoint scored through tools/test.py (argmax with the learned bg channel).
"""
import os.path as osp

import pytest
import torch

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/cpal/cpal_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
SEEDS = 'configs/cpal/cpal-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_cpal_trains_and_scores_seeds(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    two = first_ids(tmp_path, 'train2.txt', osp.join(split_dir, 'train.txt'), 2)
    work = str(tmp_path / 'cpal')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'cpal.loss_self', 'cpal.loss_fda', 'cpal.bank_fill'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    count = [v for k, v in state.items() if k.endswith('bank.count')]
    assert len(count) == 1 and int(count[0].sum()) > 0  # the bank was written and saved
    loader = [f'test_dataloader.{o}' for o in LOADER_OPTIONS]
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options', f'test_dataloader.dataset.ann_file={two}',
                   *loader)
    assert 'mIoU' in out


EXT = 'configs/cpal/cpal-ext_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'


def test_cpal_trains_on_external_cam_files(tmp_path):
    """The external-CAM path (CLIP-ES files in the published pipeline): stand-in files for 2
    images (every class a smooth ramp; the labels mask them), one iteration, no crop."""
    import numpy as np
    root = coco_mini_converted('voc')
    split = osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')
    two = first_ids(tmp_path, 'train2.txt', split, 2)
    cam_dir = tmp_path / 'ext'
    cam_dir.mkdir()
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    for name in open(two).read().split():
        np.savez(cam_dir / f'{name}.npz', keys=np.arange(20), cams=np.stack([ramp] * 20))
    out = run_tool('tools/train.py', EXT, '--work-dir', str(tmp_path / 'w'), '--data-root', root,
                   '--cfg-options', 'train_cfg.max_iters=1', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={two}',
                   f'model.cam_heads.cpal.ext_cam_dir={cam_dir}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS
                     ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1')
    assert 'cpal.loss_self' in out and 'cpal.loss_fda' in out
