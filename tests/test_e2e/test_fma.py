"""FMA end to end on real coco-mini photos with a random tiny CLIP and a random tiny SAM:
SAM quasi-superpixels with levels (tools/s2c_segment_everything.py --preset fma, resumable),
2 iterations of the classification prompt task (tools/train.py), its coarse SAMS seeds
(tools/generate_pseudo_labels.py), 2 iterations of the segmentation prompt task on those
seeds, and the seg-task CAMs scored through tools/test.py."""
import glob
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool

CLS = 'configs/fma/fma-cls_tiny-clip-random_1xb16-18i_coco-mini-voc-224x224.py'
SEG = 'configs/fma/fma-seg_tiny-clip-random_1xb16-167i_coco-mini-voc-pl-fma-cls-224x224.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_fma_sams_cls_seeds_seg(tmp_path):
    pytest.importorskip('segment_anything')
    pytest.importorskip('open_clip')
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train3.txt', osp.join(split_dir, 'train.txt'), 3)
    sams = str(tmp_path / 'sams')
    seeds = str(tmp_path / 'seeds')
    sam_args = ('tools/s2c_segment_everything.py', CLS, '--preset', 'fma', '--data-root', root,
                '--out-dir', sams, '--cfg-options',
                f'pseudo_label_dataloader.dataset.ann_file={train}',
                'fma_sam.amg_cfg.points_per_side=2', 'fma_sam_long_side=160')
    assert '3 images, 0 already done' in run_tool(*sam_args)
    assert len(glob.glob(osp.join(sams, '*', '*.npz'))) == 3
    assert '3 images, 3 already done' in run_tool(*sam_args)  # resumes

    loaders = [f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS]
    common = [
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'val_dataloader.dataset.ann_file={train}', 'train_dataloader.batch_size=3', *loaders,
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2'
    ]
    work = str(tmp_path / 'cls')
    out = run_tool('tools/train.py', CLS, '--work-dir', work, '--data-root', root, '--cfg-options',
                   *common)
    assert 'loss_cls' in out and 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)

    out = run_tool('tools/generate_pseudo_labels.py', CLS, ckpt, '--out-dir', seeds, '--data-root',
                   root, '--cfg-options', f'pseudo_label_dataloader.dataset.ann_file={train}',
                   *[f'pseudo_label_dataloader.{o}'
                     for o in LOADER_OPTIONS], f'pseudo_label_cfg.refiners.0.mask_dir={sams}')
    pngs = sorted(glob.glob(osp.join(seeds, '*.png')))
    assert len(pngs) == 3
    for p in pngs:  # SAMS seeds: 0 = bg / uncovered, fg = present classes + 1, no ignore
        assert np.array(Image.open(p)).max() <= 20

    work = str(tmp_path / 'seg')
    out = run_tool('tools/train.py', SEG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   *common, f'train_dataloader.dataset.pseudo_label_dir={seeds}')
    assert 'loss_cam' in out and 'loss_cls' not in out
    ckpt = osp.join(work, 'iter_2.pth')
    out = run_tool('tools/test.py', SEG, ckpt, '--work-dir', str(tmp_path / 'test'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
