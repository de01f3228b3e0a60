"""tools/run_pipeline.py end to end on real coco-mini photos: the CAM baseline's recipe
(stage 1, seeds with the sweep, pseudo labels at the swept threshold, their mIoU, stage 2
DeepLabV3+, its val mIoU) on 4 training and 4 val images with 2 iterations per training,
then the resume rules: a finished run skips every step, a removed step.json reruns only
that step, a failing step names its log."""
import json
import os
import os.path as osp

import pytest

from mmwsss.testing.data import coco_mini_converted, coco_mini_root
from mmwsss.testing.e2e import EFFNET_CKPT, REPO_ROOT, first_ids, run_tool

CAM = osp.join(REPO_ROOT, 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py')
SEG = osp.join(REPO_ROOT,
               'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not found'),
]

_LOADER = "dict(num_workers=0, persistent_workers=False, dataset=dict(ann_file='{}'))"


def _configs(tmp_path, root):
    split = osp.join(root, 'ImageSets', 'Segmentation')
    # 2 images each: the steps' process start-up, not the images, is what this test runs
    train = first_ids(tmp_path, 'train2.txt', osp.join(split, 'train.txt'), 2)
    val = first_ids(tmp_path, 'val2.txt', osp.join(split, 'val.txt'), 2)
    seg = tmp_path / 'seg.py'
    seg.write_text(f"""_base_ = '{SEG}'
train_cfg = dict(max_iters=2, val_interval=2)
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file='{train}'))
val_dataloader = {_LOADER.format(val)}
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
model = dict(backbone=dict(init_cfg=dict(checkpoint='{EFFNET_CKPT}')))
""")
    cam = tmp_path / 'cam.py'
    cam.write_text(f"""_base_ = '{CAM}'
train_cfg = dict(max_iters=2)
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file='{train}'))
test_dataloader = {_LOADER.format(train)}
pseudo_label_dataloader = {_LOADER.format(train)}
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
wsss_recipe = dict(stage2='{seg}')
""")
    return str(cam)


def test_pipeline_runs_resumes_and_reports(tmp_path):
    assert osp.isfile(EFFNET_CKPT), 'tools/install.sh converts the EfficientNet-Lite0 weights'
    root = coco_mini_converted('voc')
    cam = _configs(tmp_path, root)
    work = str(tmp_path / 'run')
    out = run_tool('tools/run_pipeline.py', cam, '--data-root', root, '--work-dir', work, '--quiet')
    with open(osp.join(work, 'summary.json')) as f:
        summary = json.load(f)
    head = summary['summary']
    steps = summary['steps']
    assert list(steps) == ['stage1', 'seeds', 'pseudo_labels', 'label_eval', 'stage2', 'stage2_val']
    # the labels were written at the seed sweep's threshold and scored on the same 2 images
    thr = steps['seeds']['metrics']['bg_thr']
    assert head['bg_thr'] == thr and '--bg-thr' in steps['pseudo_labels']['command']
    assert steps['pseudo_labels']['command'][-1] == str(thr)
    assert steps['pseudo_labels']['images'] == 2 and steps['label_eval']['images'] == 2
    assert steps['seeds']['metrics']['curve']['curve']  # the sweep curve is kept
    for key in ('seed mIoU', 'label mIoU', 'label precision', 'label recall', 'stage-2 mIoU',
                'train s', 'peak MB', 'label img/s'):
        assert head[key] is not None, key
    # stage 2 trained on the pipeline's labels, not the config's pseudo_label_dir
    label_dir = steps['pseudo_labels']['label_dir']
    assert steps['stage2']['command'][steps['stage2']['command'].index('--pseudo-label-dir') +
                                      1] == label_dir
    assert '| seed mIoU |' in out and osp.isfile(osp.join(work, 'summary.md'))

    # finished: everything is skipped
    out = run_tool('tools/run_pipeline.py', cam, '--data-root', root, '--work-dir', work, '--quiet')
    assert out.count('done before, skipped') == 6
    # one step's record gone: only it runs again, with the same result
    os.remove(osp.join(work, 'stage2_val', 'step.json'))
    out = run_tool('tools/run_pipeline.py', cam, '--data-root', root, '--work-dir', work, '--quiet')
    assert out.count('done before, skipped') == 5 and 'stage2_val: finished' in out
    with open(osp.join(work, 'summary.json')) as f:
        assert json.load(f)['summary']['stage-2 mIoU'] == head['stage-2 mIoU']


def test_failing_step_names_its_log(tmp_path):
    root = coco_mini_converted('voc')
    bad = tmp_path / 'bad.py'
    bad.write_text(f"""_base_ = '{CAM}'
model = dict(decode_head=dict(type='NoSuchHead'))
wsss_recipe = dict(stage2=None)
""")
    with pytest.raises(AssertionError) as err:
        run_tool('tools/run_pipeline.py', str(bad), '--data-root', root, '--work-dir',
                 str(tmp_path / 'run'), '--quiet')
    msg = str(err.value)
    assert 'step stage1 failed' in msg and osp.join('stage1', 'log.txt') in msg
    assert 'NoSuchHead' in msg
