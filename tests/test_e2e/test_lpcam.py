"""LPCAM end to end on real coco-mini photos, without work_dirs.

A CAM classifier trained for 2 iterations (the coco-mini baseline config), then the
whole offline path (tools/make_prototype_cams.py: feature dump, clustering, LPCAMs),
resumed once, the LPCAM seeds scored by tools/test.py and tools/eval_pseudo_labels.py,
and IR labels written from the LPCAMs through the IRN label config.
"""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CAM_CFG = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
LPCAM_CFG = 'configs/lpcam/lpcam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
IR_CFG = 'configs/lpcam/irn-labels_lpcam-effnet-lite0_coco-mini-voc.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_lpcam_offline_path(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split = first_ids(tmp_path, 'train4.txt',
                      osp.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 4)
    ids = open(split).read().split()
    work = str(tmp_path / 'cam')
    run_tool('tools/train.py', CAM_CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
             'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
             f'train_dataloader.dataset.ann_file={split}',
             *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
             'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1')
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)

    out_dir = str(tmp_path / 'lpcam')
    small = [
        f'{d}.dataset.ann_file={split}'
        for d in ('prototype_dump_dataloader', 'pseudo_label_dataloader', 'test_dataloader')
    ] + [
        f'{d}.{o}'
        for d in ('prototype_dump_dataloader', 'pseudo_label_dataloader', 'test_dataloader')
        for o in LOADER_OPTIONS
    ] + ['model.test_cfg.scales=[1.0]']
    tool = ('tools/make_prototype_cams.py', LPCAM_CFG, ckpt, '--work-dir', out_dir, '--data-root',
            root, '--cfg-options', *small)
    out = run_tool(*tool)
    assert 'dump: 4 images, 0 already written, 4 to do' in out
    assert "'written': 4" in out
    protos = osp.join(out_dir, 'prototypes')
    meta = json.load(open(osp.join(protos, 'meta.json')))
    assert meta['num_clusters'] == 12 and meta['select_thres'] == 0.1
    assert sum(meta['class_prototypes']) > 0
    labels = json.load(open(osp.join(root, 'cls_labels.json')))
    for stem in ids:
        feat = np.load(osp.join(out_dir, 'features', stem + '.npz'))
        assert sorted(feat['keys'].tolist()) == sorted(labels[stem])
        assert feat['feat'].shape[0] == 1280 and feat['cam'].shape[1:] == feat['feat'].shape[1:]
        img = Image.open(osp.join(root, 'JPEGImages', stem + '.jpg'))
        seeds = np.array(Image.open(osp.join(out_dir, 'lpcam', stem + '.png')))
        assert seeds.shape == (img.height, img.width)
        cams = np.load(osp.join(out_dir, 'lpcam', 'cams', stem + '.npz'))
        assert sorted(cams['keys'].tolist()) == sorted(labels[stem])
        assert cams['cams'].shape[1:] == (img.height, img.width)
    # resumes: nothing is redone
    out = run_tool(*tool)
    assert 'dump: 4 images, 4 already written, 0 to do' in out and 'exists' in out
    assert "'written': 0" in out

    # seeds with the bg-threshold sweep, and the folder of seed PNGs
    out = run_tool('tools/test.py', LPCAM_CFG, ckpt, '--work-dir', str(tmp_path / 'test'),
                   '--data-root', root, '--cfg-options', f'model.prototype_dir={protos}', *small)
    assert 'bg_thr' in out and 'mIoU' in out
    js = str(tmp_path / 'eval.json')
    run_tool('tools/eval_pseudo_labels.py', osp.join(out_dir, 'lpcam'),
             osp.join(root, 'SegmentationClass'), '--split', split, '--classes-from',
             osp.join(root, 'meta.json'), '--json', js)
    assert 0 <= json.load(open(js))['mIoU'] <= 100

    # the IRN path reads LPCAMs through the model: IR labels (fg 0.45 / bg 0.25 + CRF)
    ir_dir = str(tmp_path / 'ir')
    out = run_tool('tools/generate_pseudo_labels.py', IR_CFG, ckpt, '--out-dir', ir_dir,
                   '--data-root', root, '--cfg-options', f'model.prototype_dir={protos}', *small)
    assert 'written 4' in out
