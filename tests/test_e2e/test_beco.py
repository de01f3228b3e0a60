"""BECO end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

Offline labels and confidence masks are written for 4 training images (the images' own
masks as labels, a checkerboard as the mask: the label generation itself is tested in
tests/test_tools/test_generate_conf_masks.py), then the CPU config trains 2 iterations
through tools/train.py with the online-label switch at iteration 1 (so the warm-up
ClassMix and the online ClassMix both run), and tools/test.py scores 2 val images with
both nets' mean logits and the CRF.
"""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/beco/beco_effnet-lite0_1xb4-150i_coco-mini-voc-pl-cam-256x256.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_beco_trains_and_is_evaluated(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    with open(train) as f:
        ids = f.read().split()
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    pl = tmp_path / 'pl'
    os.makedirs(pl / 'conf_mask')
    for i in ids:
        lab = np.array(Image.open(osp.join(root, 'SegmentationClass', i + '.png')))
        Image.fromarray(lab).save(pl / f'{i}.png')
        yy, xx = np.mgrid[:lab.shape[0], :lab.shape[1]]
        Image.fromarray(
            (((yy // 8) + (xx // 8)) % 2).astype(np.uint8)).save(pl / 'conf_mask' / f'{i}.png')
    work = str(tmp_path / 'beco')
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'train_dataloader.dataset.pseudo_label_dir={pl}',
        f'train_dataloader.dataset.pipeline.2.label_dir={pl}',
        f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader')
          for o in LOADER_OPTIONS], 'model.batch_mixers.0.online.start=1',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('beco.loss_ce1', 'beco.loss_ce2', 'beco.loss_cot1', 'beco.loss_cot2'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    crf = tmp_path / 'crf.py'
    crf.write_text(f"_base_ = [{osp.join(REPO_ROOT, CFG)!r}]\n"
                   "model = dict(test_cfg=dict(crf=dict(type='DenseCRF', preset='more_beco',"
                   " restrict_to_labels=False)))\n")
    out = run_tool('tools/test.py', str(crf), ckpt, '--work-dir', str(tmp_path / 'test'),
                   '--data-root', root, '--cfg-options', f'test_dataloader.dataset.ann_file={val}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
