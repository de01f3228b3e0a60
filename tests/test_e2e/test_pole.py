"""POLE end to end on real coco-mini photos: the selection tool (baseline CAMs of a
configs/cam-style checkpoint, random tiny CLIP) writes the per-image tokens of 4 images,
the CPU config trains 2 iterations through tools/train.py with them, then the seeds
config scores the CAMs of the saved checkpoint through tools/test.py. The CAM baseline
checkpoint the CPU config starts from is an output of an earlier stage (absent on a
clean checkout): the test writes one with the ImageNet EfficientNet-Lite0 backbone and a
random CAM head, under the keys of a configs/cam checkpoint (``backbone.*``,
``decode_head.*``), so it never skips and the tool's key mapping is exercised."""
import json
import os.path as osp

import pytest
import torch

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/pole/pole_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'
SEEDS = 'configs/pole/pole-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _cam_checkpoint(path: str) -> None:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmwsss.registry import MODELS
    from mmwsss.testing.tools import REPO_ROOT
    init_default_scope('mmwsss')
    cfg = Config.fromfile(osp.join(REPO_ROOT, CFG))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=EFFNET_CKPT)
    cfg.model.cam_heads.clims.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    names = (('branches.net.backbone.', 'backbone.'), ('branches.net.cam_heads.clims.',
                                                       'decode_head.'))
    state = {}
    for k, v in model.state_dict().items():
        for a, b in names:
            k = k.replace(a, b)
        state[k] = v
    torch.save({'state_dict': state}, path)


def test_pole_selects_trains_and_seeds_are_scored(tmp_path):
    pytest.importorskip('open_clip')
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    cam_ckpt = str(tmp_path / 'cam.pth')
    _cam_checkpoint(cam_ckpt)
    prompts = str(tmp_path / 'prompts.json')
    loader = [f'pseudo_label_dataloader.{o}' for o in LOADER_OPTIONS]
    out = run_tool('tools/pole_select_prompts.py', CFG, cam_ckpt, '--out', prompts, '--data-root',
                   root, '--save-every', '3', '--cfg-options',
                   f'pseudo_label_dataloader.dataset.ann_file={train}', *loader)
    assert 'written' in out
    with open(prompts) as f:
        chosen = json.load(f)
    with open(train) as f:
        ids = f.read().split()
    assert sorted(chosen) == sorted(ids)
    from mmwsss.models.foundation.pole_synonyms import pole_candidates
    cands = pole_candidates('voc')
    assert all(tok in cands[int(c)] for row in chosen.values() for c, tok in row.items())
    # a rerun resumes: nothing left to do (in-process, to keep the test short)
    import importlib.util

    from mmwsss.testing.tools import REPO_ROOT
    spec = importlib.util.spec_from_file_location(
        '_pole_select_prompts', osp.join(REPO_ROOT, 'tools', 'pole_select_prompts.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    summary = tool.main([
        osp.join(REPO_ROOT, CFG), cam_ckpt, '--out', prompts, '--data-root', root, '--cfg-options',
        f'pseudo_label_dataloader.dataset.ann_file={train}', *loader
    ])
    assert summary['images'] == 4 and summary['selected'] == 0

    work = str(tmp_path / 'pole')
    out = run_tool('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
                   'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                   f'model.loss_terms.0.prompt_file={prompts}',
                   f'model.backbone.init_cfg.checkpoint={cam_ckpt}',
                   f'model.cam_heads.clims.init_cfg.checkpoint={cam_ckpt}',
                   f'train_dataloader.dataset.ann_file={train}',
                   *[f'train_dataloader.{o}' for o in LOADER_OPTIONS
                     ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'unexpected key' not in out and 'missing keys' not in out
    for key in ('pole.loss_otm', 'pole.loss_btm', 'pole.loss_cbs', 'pole.loss_reg'):
        assert key in out, key
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}',
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'bg_thr' in out and 'mIoU' in out
