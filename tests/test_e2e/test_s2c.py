"""S2C end to end on real coco-mini photos: the offline SAM segment maps (random-weight
tiny SAM), 2 training iterations with the three terms on (CPM from iteration 0) through
tools/train.py with the real EfficientNet-Lite0 weights, a resumed segment step that
skips the done maps, then the CAM seeds of 2 images through tools/test.py."""
import glob
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/s2c/s2c_effnet-lite0_1xb4-104i_coco-mini-voc-256x256.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_s2c_segments_train_and_seeds(tmp_path):
    pytest.importorskip('segment_anything')
    assert osp.isfile(CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    seg_dir = str(tmp_path / 'segments')
    seg_args = ('tools/s2c_segment_everything.py', CFG, '--data-root', root, '--out-dir', seg_dir,
                '--cfg-options', f'train_dataloader.dataset.ann_file={train}',
                's2c_sam.amg_cfg.points_per_side=2')
    out = run_tool(*seg_args)
    assert '4 images, 0 already done' in out
    assert len(glob.glob(osp.join(seg_dir, '*.npy'))) == 4
    assert '4 images, 4 already done' in run_tool(*seg_args)  # resumes: nothing to redo
    work = str(tmp_path / 's2c')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
                   f'train_dataloader.dataset.pipeline.1.segments_dir={seg_dir}',
                   *[f'train_dataloader.{o}'
                     for o in LOADER_OPTIONS], 'model.loss_terms.2.schedule.start=0',
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'ssc.loss_ssc', 'cpm.loss_cpm', 'cpm.cpm_fg_ratio'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
