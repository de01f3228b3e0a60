"""tools/generate_pseudo_labels.py on a synthetic VOC set with the centre-prior model."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing import load_tool
from mmwsss.testing.data import make_voc_tiny


def _tool():
    return load_tool('tools/generate_pseudo_labels.py')


CFG = """
default_scope = 'mmwsss'
model = dict(type='CenterPriorCAM', num_classes=20, sigma=0.25, bg_thr=0.5,
             data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[0, 0, 0],
                                    std=[1, 1, 1]))
pseudo_label_dataloader = dict(
    batch_size=1, num_workers=0,
    dataset=dict(type='WSSSVOCDataset', data_root={root!r},
                 ann_file='ImageSets/Segmentation/train.txt', label_file='cls_labels.json',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 pipeline=[dict(type='LoadWSSSImageFromFile'),
                           dict(type='PackWSSSInputs')]))
pseudo_label_cfg = dict(refiners={refiners}, bg_thr=0.5)
"""


def _setup(tmp_path, refiners='[]'):
    info = make_voc_tiny(str(tmp_path / 'voc'))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CFG.format(root=info['data_root'], refiners=refiners))
    return info, str(cfg), str(tmp_path / 'pl')


def _expected(shape, first_class):
    # blob(d) = exp(-d^2 / (2 * 0.25^2)) > 0.5  <=>  d^2 < 0.125 * ln 2
    h, w = shape
    ys = (np.arange(h) + 0.5) / h - 0.5
    xs = (np.arange(w) + 0.5) / w - 0.5
    d2 = ys[:, None] ** 2 + xs[None, :] ** 2
    return np.where(d2 < 0.125 * np.log(2), first_class + 1, 0).astype(np.uint8)


def test_writes_labels_resumes_and_saves_cams(tmp_path):
    tool = _tool()
    info, cfg, out = _setup(tmp_path)
    summary = tool.main([cfg, '--out-dir', out, '--save-cams'])
    assert summary == dict(total=4, skipped=0, written=4)
    for stem in info['ids']:
        lab = np.array(Image.open(osp.join(out, stem + '.png')))
        # ties between labelled classes go to the lowest index (argmax order)
        exp = _expected(info['masks'][stem].shape, min(info['labels'][stem]))
        assert np.array_equal(lab, exp), stem
        npz = np.load(osp.join(out, 'cams', stem + '.npz'))
        assert npz['keys'].tolist() == info['labels'][stem]
        assert npz['cams'].shape == (len(info['labels'][stem]), *lab.shape)
    assert not [f for f in os.listdir(out) if f.startswith('.tmp')]
    # a killed run resumes: remove one label, rerun -> only that one is written
    os.remove(osp.join(out, info['ids'][2] + '.png'))
    assert tool.main([cfg, '--out-dir', out]) == dict(total=4, skipped=3, written=1)
    assert tool.main([cfg, '--out-dir', out, '--overwrite'])['written'] == 4


def test_refine_chain_from_config(tmp_path):
    """A DenseCRF in cfg.pseudo_label_cfg.refiners runs on the original RGB image."""
    tool = _tool()
    info, cfg, out = _setup(
        tmp_path, refiners="[dict(type='DenseCRF', preset='psa', bg_power=1)]")
    tool.main([cfg, '--out-dir', out])
    for stem in info['ids']:
        lab = np.array(Image.open(osp.join(out, stem + '.png')))
        assert set(np.unique(lab)) <= {0} | {c + 1 for c in info['labels'][stem]}
    assert tool.main([cfg, '--out-dir', str(tmp_path / 'raw'), '--no-refine'])['written'] == 4


def test_corrupt_image_is_named(tmp_path):
    tool = _tool()
    info, cfg, out = _setup(tmp_path)
    bad = osp.join(info['data_root'], 'JPEGImages', info['ids'][1] + '.jpg')
    with open(bad, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(Exception, match=info['ids'][1]):
        tool.main([cfg, '--out-dir', out])
