"""CPN end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

The CPU config trains 2 iterations on 4 images through tools/train.py (the SLIC pair in the
pipeline, three views, PCM + PRCM, all four losses), then tools/test.py scores the CAM
seeds of the saved checkpoint.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/cpn/cpn_effnet-lite0_1xb4-208i_coco-mini-voc-224x224.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def train_and_score(tmp_path, cfg, keys):
    assert osp.isfile(CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    train = first_ids(tmp_path, 'train4.txt',
                      osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 4)
    work = str(tmp_path / 'work')
    out = run_tool('tools/train.py', cfg, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in keys:
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', cfg, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out


def test_cpn_trains_and_scores_seeds(tmp_path):
    pytest.importorskip('skimage')
    train_and_score(tmp_path, CFG,
                    ('cpn.loss_cls', 'cpn.loss_min', 'cpn.loss_tcp', 'cpn.loss_cpcr'))
