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
    d2 = ys[:, None]**2 + xs[None, :]**2
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
    info, cfg, out = _setup(tmp_path, refiners="[dict(type='DenseCRF', preset='psa', bg_power=1)]")
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


# --- issue 9 ------------------------------------------------------------------------------
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from mmwsss.testing.data import coco_mini_root  # noqa: E402

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
import tool_helpers  # noqa: E402  (registers ToyCAMModel)

CUSTOM_CFG = """
default_scope = 'mmwsss'
model = dict(type='CenterPriorCAM', num_classes=20, sigma=0.25, bg_thr=0.5,
             data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[0, 0, 0],
                                    std=[1, 1, 1]))
pseudo_label_dataloader = dict(
    batch_size=1, num_workers=0,
    dataset=dict(type='WSSSCustomDataset', data_root={root!r}, label_file='labels.csv',
                 metainfo=dict(classes={classes!r}),
                 pipeline=[dict(type='LoadWSSSImageFromFile'), dict(type='PackWSSSInputs')]))
pseudo_label_cfg = dict(refiners=[], bg_thr=0.5)
"""


def _coco_names(n):
    if coco_mini_root() is None:
        pytest.skip('coco-mini not available')
    return sorted(os.listdir(osp.join(coco_mini_root(), 'train2017')))[:n]


def test_same_file_name_in_two_folders_gets_two_outputs(tmp_path):
    """a/01.jpg and b/01.jpg were both written to 01.png ("3 already written")."""
    from mmwsss.datasets.class_names import VOC_CLASSES
    tool = _tool()
    src = _coco_names(2)
    root = tmp_path / 'custom'
    for folder, name in (('a', src[0]), ('b', src[1])):
        (root / 'images' / folder).mkdir(parents=True)
        shutil.copy(
            osp.join(coco_mini_root(), 'train2017', name), root / 'images' / folder / '01.jpg')
    (root / 'labels.csv').write_text('image,labels\na/01.jpg,dog\nb/01.jpg,cat\n')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CUSTOM_CFG.format(root=str(root), classes=VOC_CLASSES[1:]))
    out = tmp_path / 'pl'
    assert tool.main([str(cfg), '--out-dir', str(out)]) == dict(total=2, skipped=0, written=2)
    a, b = (np.array(Image.open(out / k / '01.png')) for k in ('a', 'b'))
    assert set(np.unique(a)) == {0, VOC_CLASSES.index('dog')}
    assert set(np.unique(b)) == {0, VOC_CLASSES.index('cat')}
    assert tool.main([str(cfg), '--out-dir', str(out)])['skipped'] == 2


def test_outputs_get_the_umask_mode(tmp_path):
    tool = _tool()
    info, cfg, out = _setup(tmp_path)
    old = os.umask(0o022)
    try:
        tool.main([cfg, '--out-dir', out, '--save-cams'])
    finally:
        os.umask(old)
    stem = info['ids'][0]
    assert os.stat(osp.join(out, stem + '.png')).st_mode & 0o777 == 0o644
    assert os.stat(osp.join(out, 'cams', stem + '.npz')).st_mode & 0o777 == 0o644


def test_killed_run_leaves_no_output_that_a_reader_mistakes(tmp_path):
    """SIGKILL while a label is written, then the rerun: the partial file has a
    temporary name, the rerun removes it and writes everything, and
    eval_pseudo_labels (no --split) scores the folder without tripping over it."""
    info, cfg, out = _setup(tmp_path)
    env = dict(
        os.environ,
        MMWSSS_CRASH_WRITE=r'\.png',
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [osp.join(REPO, 'tests', 'test_engine'), REPO,
             os.environ.get('PYTHONPATH', '')]))
    code = ('import crash_on_write, runpy, sys; sys.argv = sys.argv[1:]; '
            'runpy.run_path(sys.argv[0], run_name="__main__")')
    proc = subprocess.run(
        [sys.executable, '-c', code, 'tools/generate_pseudo_labels.py', cfg, '--out-dir', out],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    left = os.listdir(out)
    assert len(left) == 1 and left[0].startswith('.') and left[0].endswith('.tmp'), left
    # the evaluator ignores the leftover (it failed on it as an orphan prediction)
    ev = load_tool('tools/eval_pseudo_labels.py')
    gt_dir = osp.join(info['data_root'], 'SegmentationClass')
    with pytest.raises(ev.EvalError, match='4 of 4 image'):
        ev.evaluate(out, gt_dir, num_classes=21)
    assert _tool().main([cfg, '--out-dir', out]) == dict(total=4, skipped=0, written=4)
    assert sorted(os.listdir(out)) == sorted(i + '.png' for i in info['ids'])
    assert ev.evaluate(out, gt_dir, num_classes=21)['num_images'] == 4


TOY_CFG = """
default_scope = 'mmwsss'
model = dict(type='ToyCAMModel', num_classes=20)
pseudo_label_dataloader = dict(
    batch_size=1, num_workers=0,
    dataset=dict(type='WSSSVOCDataset', data_root={root!r},
                 ann_file='ImageSets/Segmentation/train.txt', label_file='cls_labels.json',
                 pipeline=[dict(type='LoadWSSSImageFromFile'), dict(type='PackWSSSInputs')]))
pseudo_label_cfg = dict(refiners=[], bg_thr=0.5)
"""


def _toy_setup(tmp_path):
    info = tool_helpers.coco_mini_voc_subset(str(tmp_path / 'voc'), n=2)
    cfg = tmp_path / 'toy.py'
    cfg.write_text(TOY_CFG.format(root=info['data_root']))
    return info, str(cfg), str(tmp_path / 'pl')


def test_inf_cams_name_image_and_checkpoint(tmp_path):
    info, cfg, out = _toy_setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'huge.pth'), scale=3e38)
    with pytest.raises(
            ValueError,
            match=rf'image .*{info["ids"][0]}\.jpg \(checkpoint '
            r'.*huge\.pth\): cams contain inf values'):
        _tool().main([cfg, ckpt, '--out-dir', out])
    assert not [f for f in os.listdir(out) if not f.startswith('.')]


def test_mismatched_checkpoint_named(tmp_path):
    _, cfg, out = _toy_setup(tmp_path)
    ckpt = tool_helpers.save_checkpoint(str(tmp_path / 'coco80.pth'), num_classes=80)
    with pytest.raises(RuntimeError, match=r'coco80\.pth does not match .*scale'):
        _tool().main([cfg, ckpt, '--out-dir', out])
    good = tool_helpers.save_checkpoint(str(tmp_path / 'ok.pth'))
    assert _tool().main([cfg, good, '--out-dir', out])['written'] == 2


def test_truncated_jpeg_with_end_marker_named(tmp_path):
    info, cfg, out = _toy_setup(tmp_path)
    path = osp.join(info['data_root'], 'JPEGImages', info['ids'][1] + '.jpg')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] + b'\xff\xd9')
    with pytest.raises(OSError, match=rf'corrupt JPEG .*{info["ids"][1]}\.jpg'):
        _tool().main([cfg, '--out-dir', out])
    # the label of the damaged image was not written
    assert not osp.exists(osp.join(out, info['ids'][1] + '.png'))
