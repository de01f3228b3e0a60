"""RCA end to end on real coco-mini photos with the real EfficientNet-Lite0 weights.

Two iterations of the CPU config through tools/train.py with one-iteration "epochs", so
that in two steps every RCA part runs: the contrast loss (moved to iteration 0), the
memory write, the clustering at the start of epoch 1 and the attention accumulation (epoch
1 is the last: missing maps are written). Then tools/test.py scores the CAM seeds of the
checkpoint, tools/rca_gen_labels.py turns the accumulated maps into pseudo labels and
tools/eval_pseudo_labels.py scores them.
"""
import os
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/rca/rca_effnet-lite0_1xb8-78i_coco-mini-voc-224x224.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_rca_trains_accumulates_and_labels(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    work, att = str(tmp_path / 'rca'), str(tmp_path / 'att')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
                   'train_dataloader.batch_size=2',
                   *[f'train_dataloader.{o}'
                     for o in LOADER_OPTIONS], 'model.cam_heads.main.iters_per_epoch=1',
                   'model.cam_heads.main.cluster_n_init=1', 'model.loss_terms.2.schedule.start=-1',
                   'model.loss_terms.3.iters_per_epoch=1', 'model.loss_terms.3.num_epochs=2',
                   f'model.loss_terms.3.att_dir={att}', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'cls_coarse.loss_cls', 'contrast.loss_contrast',
                'contrast.mem_writes', 'oaa.att_written'):
        assert key in out, key
    # iteration 1 is epoch 1, the last: every present class of its 2 images has a map
    assert len(os.listdir(att)) >= 2
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
    labels = str(tmp_path / 'labels')
    out = run_tool('tools/rca_gen_labels.py', att, osp.join(root, 'JPEGImages'), labels)
    assert 'written' in out and os.listdir(labels)
    out = run_tool('tools/eval_pseudo_labels.py', labels, osp.join(root, 'SegmentationClass'),
                   '--num-classes', '21', '--allow-missing')
    assert 'mIoU' in out
