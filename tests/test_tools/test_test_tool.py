"""tools/test.py on real coco-mini images: strict checkpoint loading, --out with
CAMMetric, NaN / inf messages naming the image and the checkpoint (issue 9)."""
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing import load_tool

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import tool_helpers  # noqa: E402  (registers ToyCAMModel)

CFG = """
default_scope = 'mmwsss'
custom_imports = dict(imports=['tool_helpers'], allow_failed_imports=False)
model = dict(type='ToyCAMModel', num_classes=20)
test_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='WSSSVOCDataset', data_root={root!r},
                 ann_file='ImageSets/Segmentation/train.txt', label_file='cls_labels.json',
                 pipeline=[dict(type='LoadWSSSImageFromFile'), dict(type='LoadWSSSAnnotations'),
                           dict(type='PackWSSSInputs')]))
test_evaluator = dict(type='CAMMetric', thresholds=[0.3, 0.5, 0.7])
test_cfg = dict(type='TestLoop')
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'WARNING'
"""


def _setup(tmp_path):
    info = tool_helpers.coco_mini_voc_subset(str(tmp_path / 'voc'))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CFG.format(root=info['data_root']))
    return info, str(cfg)


def _run_test(monkeypatch, tmp_path, *args):
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', *args, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', f'experiment_name=t{abs(hash(args)) % 10**8}'
    ])
    monkeypatch.syspath_prepend(osp.dirname(osp.abspath(__file__)))
    load_tool('tools/test.py').main()


def test_mismatched_checkpoint_is_an_error(tmp_path, monkeypatch):
    """An 80-class head on a 20-class model: mmengine only warned and scored the
    random head; now the checkpoint and the key are named."""
    _, cfg = _setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'coco80.pth'), num_classes=80)
    with pytest.raises(
            RuntimeError,
            match=r'coco80\.pth does not match .*shape mismatch for '
            r'scale \(checkpoint \(80,\), model \(20,\)\)'):
        _run_test(monkeypatch, tmp_path, cfg, ckpt)


def test_nan_checkpoint_is_an_error(tmp_path, monkeypatch):
    _, cfg = _setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'nan.pth'), scale=float('nan'))
    with pytest.raises(RuntimeError, match=r'nan\.pth has NaN / inf values in scale'):
        _run_test(monkeypatch, tmp_path, cfg, ckpt)


def test_inf_cams_name_image_and_checkpoint(tmp_path, monkeypatch):
    info, cfg = _setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'huge.pth'), scale=3e38)
    with pytest.raises(
            SystemExit,
            match=rf'image .*{info["ids"][0]}\.jpg: cams contain inf '
            r'values.*\[checkpoint .*huge\.pth\]'):
        _run_test(monkeypatch, tmp_path, cfg, ckpt)


def test_out_writes_predictions_with_cam_metric(tmp_path, monkeypatch):
    """--out used to raise "BaseMetric.__init__() got an unexpected keyword argument
    'output_dir'" with the CAM configs."""
    info, cfg = _setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'ok.pth'))
    out = tmp_path / 'pred'
    _run_test(monkeypatch, tmp_path, cfg, ckpt, '--out', str(out))
    for i in info['ids']:
        label = np.array(Image.open(out / f'{i}.png'))
        gt = np.array(Image.open(osp.join(info['data_root'], 'SegmentationClass', i + '.png')))
        assert label.shape == gt.shape
        # only labelled classes (and background) are predicted
        assert set(np.unique(label)) <= {0} | {c + 1 for c in info['labels'][i]}
        assert (out / 'cams' / f'{i}.npz').is_file()


def test_every_registered_metric_accepts_output_dir():
    import inspect

    import mmwsss.evaluation  # noqa: F401
    from mmwsss.registry import METRICS
    assert METRICS.module_dict, 'no mmwsss metric registered'
    for name, cls in METRICS.module_dict.items():
        assert 'output_dir' in inspect.signature(cls.__init__).parameters, name
