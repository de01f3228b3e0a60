"""SemPLeS end to end: the three CPU stages on 4 real coco-mini photos with the real DINOv2
ViT-S/14 and a random tiny CLIP, 2 iterations each through tools/train.py (stage b loads
stage a's checkpoint, stage c the prompts of stage b's), then the stage-c CAM seeds through
tools/test.py. The learned prompts must travel: stage b's checkpoint holds them, stage c's
holds the same values (frozen there).
"""
import os.path as osp

import pytest
import torch

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import DINOV2_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/semples/semples-{}.py'
STAGE_A = CFG.format('a_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224')
STAGE_B = CFG.format('b_vits14-dinov2_1xb16-26i_coco-mini-voc-224x224')
STAGE_C = CFG.format('c_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224')
SEEDS = CFG.format('seeds_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _prompts(path):
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return state['loss_terms.0.prompts']


def test_semples_three_stages(tmp_path):
    assert osp.isfile(DINOV2_CKPT), 'tools/install.sh converts the DINOv2 weights'
    root = coco_mini_converted('voc')
    split = osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')
    train = first_ids(tmp_path, 'train4.txt', split, 4)
    common = [
        '--data-root', root, '--cfg-options', 'train_cfg.max_iters=2',
        'train_dataloader.batch_size=2', f'train_dataloader.dataset.ann_file={train}',
        *[f'train_dataloader.{o}' for o in LOADER_OPTIONS], 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2'
    ]
    work = {s: str(tmp_path / s) for s in 'abc'}
    out = run_tool('tools/train.py', STAGE_A, '--work-dir', work['a'], *common)
    assert 'unexpected key' not in out
    assert 'semples.loss_otm' in out and 'semples.loss_btm' in out
    ckpt_a = osp.join(work['a'], 'iter_2.pth')
    assert osp.isfile(ckpt_a)

    out = run_tool('tools/train.py', STAGE_B, '--work-dir', work['b'], *common,
                   f'load_from={ckpt_a}')
    assert 'semples.loss_bg_prompt' in out and 'semples.loss_text_prompt' in out
    ckpt_b = osp.join(work['b'], 'iter_2.pth')
    prompts_b = _prompts(ckpt_b)
    assert prompts_b.shape == (20, 30, 32)

    out = run_tool('tools/train.py', STAGE_C, '--work-dir', work['c'], *common,
                   f'model.loss_terms.0.prompt_checkpoint={ckpt_b}')
    assert 'semples.loss_prompt' in out
    ckpt_c = osp.join(work['c'], 'iter_2.pth')
    # stage c loaded stage b's prompts and kept them frozen
    assert torch.equal(_prompts(ckpt_c), prompts_b)

    out = run_tool('tools/test.py', SEEDS, ckpt_c, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
