"""CAMEvalHook, PseudoLabelHook and CAMVisualizationHook on a tiny CAMClassifier trained
for a few iterations on real coco-mini photos; each hook's output is compared with the
tool that computes the same thing from the saved checkpoint (tools/test.py,
tools/generate_pseudo_labels.py, tools/analysis_tools/visualize_cams.py); the last test
trains with 2 CPU processes (gloo, tools/dist_train.sh): the seed mIoU both ranks computed
their share of equals single-process tools/test.py, the labels two ranks wrote equal the
single-process tool's."""
import json
import os
import os.path as osp
import re
import subprocess
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from mmwsss.engine.hooks.pseudo_label_hook import SOURCE_FILE
from mmwsss.testing import load_tool, tiny_backbone_cfg
from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import first_ids, run_tool
from mmwsss.testing.tools import REPO_ROOT
from mmwsss.utils.checkpoint_compat import safe_torch_load

pytestmark = pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found')

MAX_ITERS = 4
BASES = [
    osp.join(REPO_ROOT, 'configs/_base_/datasets/coco-mini_voc.py'),
    osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py')
]
CFG = """
_base_ = {bases!r}
data_root = {root!r}
_split = {split!r}
model = dict(
    type='CAMClassifier',
    data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=(320, 320),
                           pad_val=0, seg_pad_val=255),
    backbone={backbone!r},
    decode_head=dict(type='CAMHead', in_channels=64, in_index=0, num_classes=20, pool='gap'),
    train_cfg=dict(),
    test_cfg=dict(scales=[1.0], flip=False, bg_thr=0.15))
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, ann_file=_split),
                        **_loader)
pseudo_label_dataloader = dict(dataset=dict(data_root=data_root, ann_file=_split), **_loader)
test_dataloader = dict(dataset=dict(data_root=data_root, ann_file=_split), **_loader)
test_evaluator = dict(_delete_=True, type='CAMMetric')
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval=1000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1, max_keep_ckpts=-1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
pseudo_label_cfg = dict(refiners=[], bg_thr=0.15)
custom_hooks = [
    dict(type='CAMEvalHook', interval=1, save_best=True),
    # the lowest seed mIoU: a best that moves, so earlier bests must be removed
    dict(type='CAMEvalHook', interval=1, save_best=True, rule='less', prefix='low'),
    dict(type='PseudoLabelHook'),
    dict(type='CAMVisualizationHook', interval=2, indices=(0, 1), tile_width=64),
]
"""


def _runner(cfg_path: str, work_dir: str, **extra) -> Runner:
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    # one message hub / logger per runner (the default name is the second it starts)
    cfg.experiment_name = f'cam_hooks_{uuid.uuid4().hex[:8]}'
    cfg.merge_from_dict(extra)
    return Runner.from_cfg(cfg)


def _hook(runner: Runner, name: str):
    return next(h for h in runner.hooks if type(h).__name__ == name)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    # the tools run below with one thread too: identical float sums, identical CAMs
    torch.set_num_threads(1)
    try:
        tmp = tmp_path_factory.mktemp('cam_hooks')
        root = coco_mini_converted('voc')
        split = first_ids(tmp, 'train4.txt', osp.join(root, 'ImageSets/Segmentation/train.txt'), 4)
        cfg_path = str(tmp / 'tiny_cam.py')
        with open(cfg_path, 'w') as f:
            f.write(
                CFG.format(
                    bases=BASES,
                    root=root,
                    split=split,
                    backbone=tiny_backbone_cfg(),
                    iters=MAX_ITERS))
        work = str(tmp / 'work')
        runner = _runner(cfg_path, work)
        runner.train()
        yield dict(cfg=cfg_path, work=work, root=root, runner=runner, tmp=tmp)
    finally:
        torch.set_num_threads(threads)


def _scalars(runner, prefix: str = 'cam') -> list:
    path = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    with open(path) as f:
        return [r for r in map(json.loads, f) if f'{prefix}/mIoU' in r]


def _test_tool_miou(trained, ckpt: str) -> dict:
    out = run_tool(
        'tools/test.py',
        trained['cfg'],
        ckpt,
        '--work-dir',
        str(trained['tmp'] / 'test'),
        threads=1)
    line = [ln for ln in out.splitlines() if 'Iter(test)' in ln][-1]
    return {k: float(v) for k, v in re.findall(r'(mIoU|bg_thr|aAcc): ([\d.]+)', line)}


def test_eval_hook_logs_what_tools_test_gives(trained):
    rows = _scalars(trained['runner'])
    # every iteration (interval 1), to the visualizer backend, with the sweep's threshold
    assert [r['step'] for r in rows] == list(range(1, MAX_ITERS + 1))
    assert {'cam/mIoU', 'cam/mPrecision', 'cam/mRecall', 'cam/aAcc', 'cam/bg_thr'} <= set(rows[0])
    hub = trained['runner'].message_hub
    assert hub.get_scalar('cam/mIoU').current() == rows[-1]['cam/mIoU']
    tool = _test_tool_miou(trained, osp.join(trained['work'], f'iter_{MAX_ITERS}.pth'))
    assert rows[-1]['cam/mIoU'] == tool['mIoU']
    assert rows[-1]['cam/aAcc'] == tool['aAcc']
    assert rows[-1]['cam/bg_thr'] == pytest.approx(tool['bg_thr'])


@pytest.mark.parametrize('prefix,pick', [('cam', max), ('low', min)])
def test_save_best_keeps_the_best_iteration(trained, prefix, pick):
    rows = _scalars(trained['runner'], prefix)
    scores = [r[f'{prefix}/mIoU'] for r in rows]
    assert scores == [r['cam/mIoU'] for r in _scalars(trained['runner'])]  # one model
    best_step = rows[scores.index(pick(scores))]['step']  # ties: the first
    best = [f for f in os.listdir(trained['work']) if f.startswith(f'best_{prefix}_')]
    assert best == [f'best_{prefix}_mIoU_iter_{best_step}.pth'], (scores, best)
    kept = safe_torch_load(osp.join(trained['work'], best[0]), map_location='cpu')
    same = safe_torch_load(osp.join(trained['work'], f'iter_{best_step}.pth'), map_location='cpu')
    assert kept['meta']['iter'] == best_step
    for key, value in same['state_dict'].items():
        assert torch.equal(kept['state_dict'][key], value), key
    assert kept['message_hub']['runtime_info'][f'{prefix}_best_score'] == pick(scores)
    assert 'optimizer' not in kept
    assert not [f for f in os.listdir(trained['work']) if f.endswith('.tmp')]


def _pngs(folder):
    return {
        f: np.array(Image.open(osp.join(folder, f)))
        for f in sorted(os.listdir(folder)) if f.endswith('.png')
    }


def test_pseudo_label_hook_writes_the_tools_labels_and_resumes(trained):
    out = osp.join(trained['work'], 'pseudo_labels')
    hook = _hook(trained['runner'], 'PseudoLabelHook')
    assert hook.summaries[out] == dict(total=4, skipped=0, written=4)
    tool_out = str(trained['tmp'] / 'tool_pl')
    tool = load_tool('tools/generate_pseudo_labels.py')
    ckpt = osp.join(trained['work'], f'iter_{MAX_ITERS}.pth')
    assert tool.main([trained['cfg'], ckpt, '--out-dir', tool_out])['written'] == 4
    mine, theirs = _pngs(out), _pngs(tool_out)
    assert sorted(mine) == sorted(theirs) and len(mine) == 4
    for name in mine:
        assert np.array_equal(mine[name], theirs[name]), name
    assert len(np.unique(np.concatenate([m.ravel() for m in mine.values()]))) > 1

    # a run killed while writing: one label missing, a partial temporary file left
    victim = sorted(mine)[1]
    os.remove(osp.join(out, victim))
    stale = osp.join(out, f'.{victim}.123-abcd.tmp')
    open(stale, 'wb').close()
    resumed = _runner(
        trained['cfg'],
        trained['work'],
        resume=True,
        load_from=ckpt,
        custom_hooks=[dict(type='PseudoLabelHook')])
    resumed.train()  # nothing left to train: straight to after_train
    again = _hook(resumed, 'PseudoLabelHook')
    assert again.summaries[out] == dict(total=4, skipped=3, written=1)
    assert not osp.exists(stale)
    assert np.array_equal(_pngs(out)[victim], theirs[victim])

    # labels of other weights are never kept: a foreign source tag rewrites all
    with open(osp.join(out, SOURCE_FILE)) as f:
        source = json.load(f)
    source['weights_sha256'] = '0' * 64
    with open(osp.join(out, SOURCE_FILE), 'w') as f:
        json.dump(source, f)
    assert again.write(resumed, out) == dict(total=4, skipped=0, written=4)


def test_visualization_hook_draws_what_the_tool_draws(trained):
    img_dir = osp.join(trained['runner'].log_dir, 'vis_data', 'vis_image')
    # before training, every 2 iterations (the last one included)
    assert sorted(os.listdir(img_dir)) == ['cams_0.png', 'cams_2.png', f'cams_{MAX_ITERS}.png']
    hooked = cv2.imread(osp.join(img_dir, f'cams_{MAX_ITERS}.png'))
    out = str(trained['tmp'] / 'tool_cams.png')
    tool = load_tool('tools/analysis_tools/visualize_cams.py')
    assert tool.main([
        trained['cfg'],
        osp.join(trained['work'], f'iter_{MAX_ITERS}.pth'), '--out', out, '--indices', '0,1',
        '--split', 'pseudo_label', '--tile-width', '64'
    ]) == 0
    drawn = cv2.imread(out)
    assert hooked.shape == drawn.shape
    assert np.array_equal(hooked, drawn)
    # the CAMs changed while training (the picture is not a constant)
    assert not np.array_equal(cv2.imread(osp.join(img_dir, 'cams_0.png')), hooked)


@pytest.mark.e2e
def test_two_ranks_score_and_write_what_one_process_gives(tmp_path):
    root = coco_mini_converted('voc')
    split = first_ids(tmp_path, 'train4.txt', osp.join(root, 'ImageSets/Segmentation/train.txt'), 4)
    cfg = str(tmp_path / 'tiny_cam.py')
    with open(cfg, 'w') as f:
        f.write(
            CFG.format(bases=BASES, root=root, split=split, backbone=tiny_backbone_cfg(), iters=2))
    work = str(tmp_path / 'work')
    env = dict(os.environ, PORT='29631', PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    # batch 1 per rank: the two ranks' BN statistics differ after every step
    proc = subprocess.run([
        'bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work, '--cfg-options',
        'train_dataloader.batch_size=1'
    ],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert 'world_size: 2' in log or 'Distributed launcher: pytorch' in log
    ckpt = osp.join(work, 'iter_2.pth')
    ts = sorted(d for d in os.listdir(work) if d[:8].isdigit())[-1]
    with open(osp.join(work, ts, 'vis_data', 'scalars.json')) as f:
        rows = [r for r in map(json.loads, f) if 'cam/mIoU' in r]
    assert [r['step'] for r in rows] == [1, 2]

    out = run_tool('tools/test.py', cfg, ckpt, '--work-dir', str(tmp_path / 'test'), threads=1)
    line = [ln for ln in out.splitlines() if 'Iter(test)' in ln][-1]
    assert f"mIoU: {rows[-1]['cam/mIoU']:.4f}" in line, (rows[-1], line)

    tool_out = str(tmp_path / 'tool_pl')
    torch.set_num_threads(1)
    tool = load_tool('tools/generate_pseudo_labels.py')
    assert tool.main([cfg, ckpt, '--out-dir', tool_out])['written'] == 4
    hook_out = osp.join(work, 'pseudo_labels')
    names = sorted(f for f in os.listdir(tool_out) if f.endswith('.png'))
    assert sorted(f for f in os.listdir(hook_out) if f.endswith('.png')) == names
    for name in names:
        assert np.array_equal(
            np.array(Image.open(osp.join(hook_out, name))),
            np.array(Image.open(osp.join(tool_out, name)))), name
    # rank 0 alone drew the pictures
    assert sorted(os.listdir(osp.join(work, ts, 'vis_data',
                                      'vis_image'))) == ['cams_0.png', 'cams_2.png']


def test_pseudo_label_hook_takes_the_sweeps_threshold(trained):
    """bg_thr_from='cam/bg_thr': the labels use the best threshold the CAMEvalHook's
    sweep found on the same weights, i.e. the tool's labels at --bg-thr that value."""
    from mmwsss.engine.hooks import PseudoLabelHook
    runner = trained['runner']
    swept = float(runner.message_hub.get_scalar('cam/bg_thr').current())
    assert swept != 0.15  # else this test could not tell the config's from the sweep's
    out = str(trained['tmp'] / 'swept_pl')
    hook = PseudoLabelHook(out_dir=out, bg_thr_from='cam/bg_thr')
    hook.before_train(runner)
    assert hook.write(runner, out)['written'] == 4 and hook.chain.bg_thr == swept
    tool_out = str(trained['tmp'] / 'tool_swept_pl')
    ckpt = osp.join(trained['work'], f'iter_{MAX_ITERS}.pth')
    load_tool('tools/generate_pseudo_labels.py').main(
        [trained['cfg'], ckpt, '--out-dir', tool_out, '--bg-thr',
         str(swept)])
    mine, theirs = _pngs(out), _pngs(tool_out)
    assert sorted(mine) == sorted(theirs)
    for name in mine:
        assert np.array_equal(mine[name], theirs[name]), name
    missing = PseudoLabelHook(out_dir=out, bg_thr_from='nothing/bg_thr')
    missing.before_train(runner)
    with pytest.raises(KeyError, match="bg_thr_from='nothing/bg_thr'"):
        missing.write(runner, out)
    with pytest.raises(ValueError, match='not both'):
        PseudoLabelHook(bg_thr=0.3, bg_thr_from='cam/bg_thr')
