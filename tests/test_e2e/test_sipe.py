"""SIPE end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

Two iterations of the CPU config through tools/train.py (both terms), the IS-CAM seeds of
the checkpoint scored through tools/test.py (argmax with the learned bg channel), and the
IR labels of cam2ir.py (bg channel kept, x0.5 for the bg-confident label) written by
tools/generate_pseudo_labels.py.
"""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/sipe/sipe_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
SEEDS = 'configs/sipe/sipe-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
IRLABELS = 'configs/sipe/sipe-irlabels_effnet-lite0_coco-mini-voc.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_sipe_trains_scores_seeds_and_writes_ir_labels(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    two = first_ids(tmp_path, 'train2.txt', osp.join(split_dir, 'train.txt'), 2)
    work = str(tmp_path / 'sipe')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'gsc.loss_gsc'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    loader = [f'test_dataloader.{o}' for o in LOADER_OPTIONS]
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options', f'test_dataloader.dataset.ann_file={two}',
                   *loader)
    assert 'mIoU' in out
    ir_dir = str(tmp_path / 'ir')
    run_tool('tools/generate_pseudo_labels.py', IRLABELS, ckpt, '--out-dir', ir_dir, '--data-root',
             root, '--cfg-options', f'pseudo_label_dataloader.dataset.ann_file={two}',
             *[f'pseudo_label_dataloader.{o}' for o in LOADER_OPTIONS])
    pngs = [f for f in os.listdir(ir_dir) if f.endswith('.png')]
    assert len(pngs) == 2
    label = np.array(Image.open(osp.join(ir_dir, pngs[0])))
    assert set(np.unique(label).tolist()) <= set(range(21)) | {255}
