"""SEAM + PPC end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

The CPU config trains 2 iterations on 4 images through tools/train.py (both views, the PCM
head with the projection, SEAM's four losses and PPC's three), then tools/test.py scores the
CAM seeds (cam_rv, 4 scales x flip, threshold sweep) of the saved checkpoint.
"""
import os.path as osp
import re

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/ppc/ppc_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')
KEYS = ('ppc.loss_cls', 'ppc.loss_min', 'ppc.loss_er', 'ppc.loss_ecr', 'ppc.loss_cross',
        'ppc.loss_cross_pl', 'ppc.loss_intra')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_ppc_trains_and_scores_seeds(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    train = first_ids(tmp_path, 'train4.txt',
                      osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 4)
    work = str(tmp_path / 'work')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in KEYS:
        assert key in out, key
    # every PPC loss is a finite number in the log (a 0 / 0 prototype would print nan)
    for key in KEYS[4:]:
        values = re.findall(re.escape(key) + r': (\S+)', out)
        assert values and all(float(v) == float(v) for v in values), (key, values)
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
