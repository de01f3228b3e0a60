"""MuP-VSS end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

The CPU config trains 2 iterations on 4 images through tools/train.py (P2P switched on from
iteration 1 instead of after one epoch, so every term runs), then the seeds config scores the
CAMs of the saved checkpoint on those images through tools/test.py.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/mupvss/mupvss_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
SEEDS = 'configs/mupvss/mupvss-seeds_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')

KEYS = ('cls.loss_cls', 'ccp.loss_ccp', 'cip.loss_cip', 'p2p.loss_p2p')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_mupvss_trains_and_seeds_are_scored(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = f.read().split()[:4]
    train = str(tmp_path / 'train4.txt')
    with open(train, 'w') as f:
        f.write('\n'.join(ids) + '\n')
    work = str(tmp_path / 'mupvss')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}'
                     for o in LOADER_OPTIONS], 'default_hooks.logger.interval=1',
                   'default_hooks.checkpoint.interval=2', 'model.loss_terms.3.schedule.start=1')
    assert 'unexpected key' not in out
    assert 'p2p.loss_p2p: 0.0000' not in out.split('Iter(train) [2/2]')[-1].split('\n')[0]
    for key in KEYS:
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
