"""RS-TextWS-Seg end to end on real coco-mini photos with the random tiny CLIP of the CPU
configs: stage 1 (CLIP fine-tuning) for 2 iterations through tools/train.py, then stage 2
(CLIP-ES on the fine-tuned CLIP, read from the stage-1 checkpoint) scores its seeds through
tools/test.py (pseudo-label writing is the same CLIP-ES predict, covered by CLIP-ES's
tool tests)."""
import os.path as osp

import pytest
import torch

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import LOADER_OPTIONS, first_ids, run_tool

STAGE1 = 'configs/rs_textws_seg/rs-textws-seg_tiny-clip-random_1xb8-100i_coco-mini-voc-224x224.py'
STAGE2 = ('configs/rs_textws_seg/'
          'rs-textws-seg-cam_tiny-clip-random_1xb1-trainfree_coco-mini-voc-ori.py')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_rs_textws_seg_stage1_then_stage2_seeds(tmp_path):
    pytest.importorskip('open_clip')
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    work = str(tmp_path / 'stage1')
    out = run_tool('tools/train.py', STAGE1, '--work-dir', work, '--data-root', root,
                   '--cfg-options', 'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS],
                   'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'loss_cls' in out and 'RSTextWSCLIPTuner: training' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    # the random base CLIP is kept (no CLIP file), the learned parts are there
    assert 'clip.clip.visual.transformer.resblocks.2.mlp.c_fc.weight' in state
    assert not any(k.startswith('prompt.clip.') for k in state)  # no duplicate copy

    stage2 = ['--cfg-options', f'model.finetuned.checkpoint={ckpt}']
    out = run_tool('tools/test.py', STAGE2, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
                   root, *stage2, f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'stage-1 tensors' in out
    assert 'bg_thr' in out and 'mIoU' in out
