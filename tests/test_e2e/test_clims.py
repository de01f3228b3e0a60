"""CLIMS end to end on real coco-mini photos: the CPU config (real EfficientNet-Lite0 from
the coco-mini CAM baseline, random tiny CLIP) trains 2 iterations through
tools/train.py with every CLIMS loss, then the seeds config scores the CAMs of the saved
checkpoint through tools/test.py. The CAM baseline checkpoint the CPU config starts from is an
output of an earlier pipeline stage (work_dirs/, absent on a clean checkout): the test starts
the same backbone from the ImageNet EfficientNet-Lite0 weights instead, so it never skips."""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/clims/clims_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'
SEEDS = 'configs/clims/clims-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_clims_trains_and_seeds_are_scored(tmp_path):
    pytest.importorskip('open_clip')
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    work = str(tmp_path / 'clims')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'model.backbone.init_cfg.checkpoint={EFFNET_CKPT}',
                   'model.backbone.init_cfg.prefix=None', 'model.cam_heads.clims.init_cfg=None',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS
                     ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'unexpected key' not in out
    for key in ('clims.loss_otm', 'clims.loss_btm', 'clims.loss_cbs', 'clims.loss_reg'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
