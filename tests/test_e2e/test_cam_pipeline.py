"""End to end on the real coco-mini images: stage 1 -> pseudo labels -> eval -> stage 2.

Runs the real tools as a user would (subprocesses), a few iterations each, on a
6-image split of coco-mini converted to the VOC label space.
"""
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
from PIL import Image

from mmwsss.datasets.converters.coco import convert_coco
from mmwsss.testing.data import coco_mini_root
from mmwsss.testing.e2e import run_tool
from mmwsss.testing.tools import REPO_ROOT

# the quickstart's CAM config: the IRN-style baseline with its head started from ImageNet
CAM_CFG = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
SEG_CFG = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
N_IMAGES = 6

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found')
]


def _pretrained_options(ckpt: str) -> list:
    """Point the backbone and the head transfer of CAM_CFG at ``ckpt``."""
    return [
        f'model.backbone.init_cfg.checkpoint={ckpt}',
        f'model.decode_head.init_cfg.1.checkpoint={ckpt}'
    ]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    data_root = str(tmp / 'coco-mini-voc')
    src = coco_mini_root()
    convert_coco(
        osp.join(src, 'annotations', 'instances_train2017.json'),
        osp.join(src, 'train2017'),
        data_root,
        label_space='voc',
        link=True,
        log=lambda msg: None)
    split_dir = osp.join(data_root, 'ImageSets', 'Segmentation')
    with open(osp.join(split_dir, 'train.txt')) as f:
        ids = f.read().split()[:N_IMAGES]
    with open(osp.join(split_dir, 'mini.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    ckpt = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')
    if not osp.isfile(ckpt):
        ckpt = str(tmp / 'effnet.pth')
        run_tool('tools/model_converters/efficientnet_lite.py', ckpt, '--keep-head')
    return dict(tmp=tmp, data_root=data_root, ids=ids, pretrained=ckpt)


def test_stage1_pseudo_labels_eval_stage2(workspace):
    tmp, data_root, ids = workspace['tmp'], workspace['data_root'], workspace['ids']
    mini = 'ImageSets/Segmentation/mini.txt'
    work1 = str(tmp / 'stage1')
    # --- stage 1: a few iterations of the CAM classifier on real photos
    out = run_tool('tools/train.py', CAM_CFG, '--work-dir', work1, '--data-root', data_root,
                   '--cfg-options', 'train_cfg.max_iters=3', 'train_dataloader.batch_size=2',
                   'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                   *_pretrained_options(workspace['pretrained']),
                   'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1')
    # the CAM head started from the ImageNet classifier rows of all 20 VOC classes
    assert 'ClassifierTransfer: 20/20 classes' in out
    ckpt = osp.join(work1, 'iter_3.pth')
    assert osp.isfile(ckpt)

    # --- seeds scored on the training images with the threshold sweep
    out = run_tool('tools/test.py', CAM_CFG, ckpt, '--work-dir', str(tmp / 'test1'), '--data-root',
                   data_root, '--cfg-options', f'test_dataloader.dataset.ann_file={mini}',
                   'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                   'model.test_cfg.scales=[1.0]')
    assert 'mIoU' in out and 'bg_thr' in out

    # --- pseudo labels: one PNG per image, resumable
    pl_dir = str(tmp / 'pl')
    gen = ('tools/generate_pseudo_labels.py', CAM_CFG, ckpt, '--out-dir', pl_dir, '--data-root',
           data_root, '--save-cams', '--cfg-options',
           f'pseudo_label_dataloader.dataset.ann_file={mini}',
           'pseudo_label_dataloader.num_workers=0',
           'pseudo_label_dataloader.persistent_workers=False', 'model.test_cfg.scales=[1.0]')
    out = run_tool(*gen)
    assert f'written {N_IMAGES}' in out
    for stem in ids:
        img = Image.open(osp.join(data_root, 'JPEGImages', stem + '.jpg'))
        lab = np.array(Image.open(osp.join(pl_dir, stem + '.png')))
        assert lab.dtype == np.uint8 and lab.shape == (img.height, img.width)
        labels = json.load(open(osp.join(data_root, 'cls_labels.json')))[stem]
        assert set(np.unique(lab).tolist()) <= {0, 255} | {c + 1 for c in labels}
        cams = np.load(osp.join(pl_dir, 'cams', stem + '.npz'))
        assert sorted(cams['keys'].tolist()) == sorted(labels)
    assert not [f for f in os.listdir(pl_dir) if f.startswith('.tmp')]
    out = run_tool(*gen)  # a second run finds everything done
    assert f'written 0, skipped {N_IMAGES}' in out

    # --- evaluate the folder against the ground truth
    js = str(tmp / 'eval.json')
    run_tool('tools/eval_pseudo_labels.py', pl_dir, osp.join(data_root,
                                                             'SegmentationClass'), '--split',
             osp.join(data_root, mini), '--classes-from', osp.join(data_root, 'meta.json'),
             '--json', js)
    res = json.load(open(js))
    assert 0 <= res['mIoU'] <= 100

    # --- stage 2: plain mmseg DeepLabV3+ on the pseudo labels
    work2 = str(tmp / 'stage2')
    run_tool('tools/train.py', SEG_CFG, '--work-dir', work2, '--data-root', data_root,
             '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
             f'train_dataloader.dataset.ann_file={mini}',
             f'train_dataloader.dataset.pseudo_label_dir={pl_dir}',
             f'val_dataloader.dataset.ann_file={mini}', 'train_dataloader.batch_size=2',
             'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
             f'model.backbone.init_cfg.checkpoint={workspace["pretrained"]}',
             'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1')
    assert osp.isfile(osp.join(work2, 'iter_2.pth'))


def test_two_process_cpu_training_and_generation(workspace):
    """MMEngine's launcher with 2 CPU processes (gloo): train 2 iterations, then
    write pseudo labels split across the ranks."""
    tmp, data_root = workspace['tmp'], workspace['data_root']
    mini = 'ImageSets/Segmentation/mini.txt'
    work = str(tmp / 'dist')
    env_port = dict(os.environ, PORT='29611', PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    common = ['--data-root', data_root]
    proc = subprocess.run([
        'bash', 'tools/dist_train.sh', CAM_CFG, '2', '--work-dir', work, *common, '--cfg-options',
        'train_cfg.max_iters=2', 'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', *_pretrained_options(workspace['pretrained']),
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
    ],
                          cwd=REPO_ROOT,
                          env=env_port,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert 'Distributed launcher: pytorch' in proc.stdout + proc.stderr or \
        'world_size: 2' in proc.stdout + proc.stderr
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)

    pl_dir = str(tmp / 'dist_pl')
    env_port['PORT'] = '29612'
    proc = subprocess.run([
        'bash', 'tools/dist_generate_pseudo_labels.sh', CAM_CFG, ckpt, '2', '--out-dir', pl_dir,
        *common, '--cfg-options', f'pseudo_label_dataloader.dataset.ann_file={mini}',
        'pseudo_label_dataloader.num_workers=0', 'pseudo_label_dataloader.persistent_workers=False',
        'model.test_cfg.scales=[1.0]'
    ],
                          cwd=REPO_ROOT,
                          env=env_port,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    written = sorted(f[:-4] for f in os.listdir(pl_dir) if f.endswith('.png'))
    assert written == sorted(workspace['ids'])
