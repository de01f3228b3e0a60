"""Uncertainty-aware pseudo labels end to end on real coco-mini photos.

Labels + confidence maps are written for 4 training images through
tools/generate_pseudo_labels.py with the CAM-baseline config variant, from the trained CAM
baseline checkpoint if this machine has it, else from the untrained (ImageNet-initialised)
CAM model saved to tmp (CI has no trained checkpoint). They are checked against the plain
labels of the same checkpoint, then the confidence-weighted stage-2 config trains 2
iterations on them through tools/train.py with the real EfficientNet-Lite0 weights.
"""
import math
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT

PL_CFG = 'configs/cam/cam-inhead-conf_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
PLAIN_CFG = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
STAGE2_CFG = ('configs/cam/deeplabv3plus-confweight_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-'
              '320x320.py')
CAM_CKPT = osp.join(REPO_ROOT, 'work_dirs', 'cam-inhead_coco-mini', 'iter_300.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _fresh_checkpoint(path: str) -> str:
    from mmwsss.registry import MODELS
    from mmwsss.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO_ROOT, PL_CFG))
    # the untrained CAM model: ImageNet backbone + the CAM head from the ImageNet classifier
    # (a random model's CAMs are all 0 here: every pixel background, one confidence value)
    cfg.model.backbone.init_cfg.checkpoint = EFFNET_CKPT
    cfg.model.decode_head.init_cfg[1].checkpoint = EFFNET_CKPT
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmwsss')):
        model = MODELS.build(cfg.model)
        model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def test_confidence_labels_and_weighted_stage2(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    split = osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')
    train = first_ids(tmp_path, 'train4.txt', split, 4)
    with open(train) as f:
        ids = f.read().split()
    ckpt = CAM_CKPT if osp.isfile(CAM_CKPT) else _fresh_checkpoint(str(tmp_path / 'cam.pth'))
    # one scale, no flip (IRN's 4 scales x flip are 15x the pixels); the same for both runs
    loader = [f'pseudo_label_dataloader.{o}' for o in LOADER_OPTIONS
              ] + ['model.test_cfg.scales=[1.0]', 'model.test_cfg.flip=False']
    pl, plain = tmp_path / 'pl', tmp_path / 'plain'
    run_tool('tools/generate_pseudo_labels.py', PL_CFG, ckpt, '--out-dir', str(pl), '--data-root',
             root, '--cfg-options', f'pseudo_label_dataloader.dataset.ann_file={train}', *loader)
    # the same checkpoint, plain CAM labels at the same threshold: identical PNGs
    run_tool('tools/generate_pseudo_labels.py', PLAIN_CFG, ckpt, '--out-dir', str(plain),
             '--data-root', root, '--bg-thr', '0.42', '--cfg-options',
             f'pseudo_label_dataloader.dataset.ann_file={train}', *loader)
    for i in ids:
        label = np.array(Image.open(pl / f'{i}.png'))
        conf = np.array(Image.open(pl / 'confidence' / f'{i}.png'))
        assert np.array_equal(label, np.array(Image.open(plain / f'{i}.png'))), i
        assert conf.dtype == np.uint8 and conf.shape == label.shape, i
        assert (conf[label == 255] == 0).all(), i
        # margins of CAM scores padded at 0.42: a background pixel is at most 0.42 sure
        assert int(conf[label == 0].max(initial=0)) <= math.floor(0.42 * 255 + 0.5), i
    assert len({
        int(v)
        for i in ids
        for v in np.unique(np.array(Image.open(pl / 'confidence' / f'{i}.png')))
    }) > 10

    # 2 iterations at batch 2 on a 160 crop (the config's 320 is 4x the time); the loop
    # validates after its last iteration: 2 val images
    val = first_ids(tmp_path, 'val2.txt', osp.join(osp.dirname(split), 'val.txt'), 2)
    work = str(tmp_path / 'stage2')
    out = run_tool(
        'tools/train.py', STAGE2_CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.3.scale=(320,160)',
        'train_dataloader.dataset.pipeline.4.crop_size=(160,160)',
        'model.data_preprocessor.size=(160,160)', f'train_dataloader.dataset.ann_file={train}',
        f'train_dataloader.dataset.pseudo_label_dir={pl}',
        f'train_dataloader.dataset.pipeline.2.label_dir={pl}',
        f'val_dataloader.dataset.ann_file={val}',
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS
          ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    losses = [float(v) for v in re.findall(r'decode\.loss_ce: ([0-9.naif]+)', out)]
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses), out[-3000:]
    assert 'mIoU' in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
