"""PSDPM end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

Baseline maps in this project's CAM-file format are written for the first 4 training images
(smooth random maps for their labelled classes: plumbing only), then two iterations of the CPU
config run through tools/train.py at 160 x 160 with the 21 replay slots switched on (two
scales, the three losses, slot features through the real backbone), and the
IS_CAM1 seeds of the checkpoint are scored through tools/test.py.
"""
import json
import os.path as osp

import numpy as np
import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool
from mmwsss.utils.io import atomic_save_npz

CFG = 'configs/psdpm/psdpm_effnet-lite0_1xb8-120i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _write_baseline_files(root: str, ids, out_dir: str) -> None:
    from PIL import Image
    labels = json.load(open(osp.join(root, 'cls_labels.json')))
    rng = np.random.default_rng(0)
    for name in ids:
        w, h = Image.open(osp.join(root, 'JPEGImages', name + '.jpg')).size
        keys = np.array(sorted(set(labels[name])), dtype=np.int64)
        small = rng.random((len(keys), 4, 4)).astype(np.float32)
        cams = np.stack([np.kron(m, np.ones((h // 4 + 1, w // 4 + 1)))[:h, :w] for m in small])
        atomic_save_npz(
            osp.join(out_dir, 'cams', name + '.npz'), keys=keys, cams=cams.astype(np.float16))


def test_psdpm_trains_and_scores_seeds(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    ids = open(train).read().split()
    base_dir = str(tmp_path / 'baseline')
    _write_baseline_files(root, ids, base_dir)
    work = str(tmp_path / 'psdpm')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   f'model.loss_terms.0.baseline_dir={base_dir}',
                   'model.loss_terms.0.use_replay=True', 'model.data_preprocessor.size=(160,160)',
                   'train_dataloader.dataset.pipeline.1.scale=(160,160)',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS
                     ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('psdpm.loss_cls', 'psdpm.loss_gsc', 'psdpm.loss_cons'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    two = first_ids(tmp_path, 'train2.txt', train, 2)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={two}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
