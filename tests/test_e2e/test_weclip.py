"""WeCLIP end to end on real coco-mini photos with a RANDOM tiny CLIP (no CLIP weights here).

Two iterations through tools/train.py on 4 images (the RFM off at iteration 0 and on at
iteration 1, both losses), the segmentation head evaluated on 2 val images at the end of
training (long side 512, scales (1, 0.75) + flip, CRF); then tools/test.py on the checkpoint.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/weclip/weclip_tiny-clip-random_1xb4-300i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_weclip_trains_and_is_evaluated(tmp_path):
    pytest.importorskip('open_clip')
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'weclip')
    loaders = [f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS]
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   f'val_dataloader.dataset.ann_file={val}', *loaders,
                   'model.label_sources.seg.rfm_start=1', 'default_hooks.logger.interval=1',
                   'default_hooks.checkpoint.interval=2')
    for key in ('seg.loss_seg', 'aff.loss_aff', 'mIoU'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'test'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={val}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
