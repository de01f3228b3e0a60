"""PBIP end to end on real coco-mini photos with the real EfficientNet-Lite0 and DINOv2 weights.

The prototype tool crops 4 training images by class and clusters their DINOv2 features, two
iterations of the CPU config train through tools/train.py (classification + matching terms,
the final val pass runs the fused-CAM TTA), and tools/test.py scores the seeds twice (PBIP's
never-background rule and the baseline's threshold sweep).
"""
import os.path as osp

import numpy as np
import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import DINOV2_CKPT, EFFNET_CKPT, LOADER_OPTIONS, first_ids, run_tool

CFG = 'configs/pbip/pbip_effnet-lite0_1xb4-208i_coco-mini-voc-224x224.py'
SEEDS = 'configs/pbip/pbip-seeds_effnet-lite0_1xb4-208i_coco-mini-voc-224x224.py'

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]


def test_pbip_prototypes_train_and_seeds(tmp_path):
    assert osp.isfile(DINOV2_CKPT) and osp.isfile(EFFNET_CKPT)
    root = coco_mini_converted('voc')
    split_dir = osp.join(root, 'ImageSets', 'Segmentation')
    train = first_ids(tmp_path, 'train4.txt', osp.join(split_dir, 'train.txt'), 4)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split_dir, 'val.txt'), 2)
    crops = str(tmp_path / 'crops')
    out = run_tool('tools/pbip_prototypes.py', 'crop', root, crops, '--split', train)
    assert 'crops in' in out
    # classes of the 4 images only: the others get the folders of a placeholder image
    import os
    import shutil
    from glob import glob
    some = sorted(glob(osp.join(crops, '*', '*.png')))[0]
    from mmwsss.datasets.class_names import VOC_CLASSES
    for name in VOC_CLASSES[1:]:
        if not osp.isdir(osp.join(crops, name)):
            os.makedirs(osp.join(crops, name))
            shutil.copy(some, osp.join(crops, name, 'x.png'))
    protos = str(tmp_path / 'protos.npz')
    run_tool('tools/pbip_prototypes.py', 'build', CFG, crops, protos)
    data = np.load(protos)
    assert data['protos'].shape == (20, 3, 384)
    assert np.allclose(np.linalg.norm(data['protos'], axis=-1), 1, atol=1e-5)
    work = str(tmp_path / 'pbip')
    heads = [f'model.cam_heads.{h}.checkpoint={protos}' for h in ('cam2', 'cam3', 'cam4')]
    out = run_tool(
        'tools/train.py', CFG, '--work-dir', work, '--data-root', root, '--cfg-options',
        'train_cfg.max_iters=2', f'train_dataloader.dataset.ann_file={train}',
        f'val_dataloader.dataset.ann_file={val}', *heads,
        *[f'{d}.{o}' for d in ('train_dataloader', 'val_dataloader') for o in LOADER_OPTIONS],
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2')
    assert 'missing keys' not in out and 'unexpected key' not in out
    for key in ('cls2.loss_cls', 'cls3.loss_cls', 'cls4.loss_cls', 'match.loss_fg', 'match.loss_bg',
                'match.loss_cam', 'match.num_pairs'):
        assert key in out, key
    assert 'mIoU' in out
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = run_tool('tools/test.py', SEEDS, ckpt, '--work-dir', str(tmp_path / 'seeds'),
                   '--data-root', root, '--cfg-options',
                   f'test_dataloader.dataset.ann_file={train}', *heads,
                   *[f'test_dataloader.{o}' for o in LOADER_OPTIONS])
    assert 'pbip/mIoU' in out and 'sweep/mIoU' in out and 'sweep/bg_thr' in out
