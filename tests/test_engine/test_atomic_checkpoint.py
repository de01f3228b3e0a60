"""Checkpoints survive a kill during the save, and --resume says what it does (issue 9).

tools/train.py runs in subprocesses on a toy model (tests/test_engine/toy_train_modules.py);
tests/test_engine/crash_on_write.py kills the process with SIGKILL halfway through
writing the first checkpoint, exactly like the probe of the issue.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))

CFG = """
default_scope = 'mmwsss'
custom_imports = dict(imports=['toy_train_modules'], allow_failed_imports=False)
model = dict(type='ToyRegressor')
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(type='ToyRegressionData'),
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        collate_fn=dict(type='default_collate'))
train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters})
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.001))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
                     logger=dict(type='LoggerHook', interval=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
"""


def _train(tmp_path, work_dir, *args, max_iters=4, crash=None):
    cfg = tmp_path / f'toy_{max_iters}.py'
    cfg.write_text(CFG.format(max_iters=max_iters))
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([HERE, REPO, os.environ.get('PYTHONPATH', '')]))
    env.pop('MMWSSS_CRASH_WRITE', None)
    if crash:
        env['MMWSSS_CRASH_WRITE'] = crash
    code = ('import crash_on_write, runpy, sys; sys.argv = sys.argv[1:]; '
            'runpy.run_path(sys.argv[0], run_name="__main__")')
    return subprocess.run([
        sys.executable, '-c', code, 'tools/train.py',
        str(cfg), '--work-dir',
        str(work_dir), *args
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)


def _ckpts(work_dir):
    return sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))


def test_killed_save_leaves_no_truncated_checkpoint(tmp_path):
    from mmwsss.engine.resume import checkpoint_problem
    work = tmp_path / 'work'
    proc = _train(tmp_path, work, crash=r'iter_2\.pth')
    assert proc.returncode == -9, proc.stdout[-3000:] + proc.stderr[-3000:]
    # before: a truncated iter_2.pth under the final name; now only a hidden temp file
    assert _ckpts(work) == []
    temps = [f for f in os.listdir(work) if f.startswith('.iter_2.pth.')]
    assert len(temps) == 1 and temps[0].endswith('.tmp')
    # the rerun with --resume says there is nothing to resume, trains, and cleans up
    proc = _train(tmp_path, work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'no checkpoint in {work}' in proc.stdout + proc.stderr
    assert _ckpts(work) == ['iter_2.pth', 'iter_4.pth']
    assert all(checkpoint_problem(str(work / c)) is None for c in _ckpts(work))
    assert not [f for f in os.listdir(work) if f.startswith('.iter_')]


def test_resume_reports_truncated_latest_checkpoint(tmp_path):
    """The issue's state: iter_4.pth truncated by a kill, no last_checkpoint. mmengine
    logged 'Auto resumed from the latest checkpoint None' and restarted at iteration 1."""
    work = tmp_path / 'work'
    assert _train(tmp_path, work, max_iters=4).returncode == 0
    data = (work / 'iter_4.pth').read_bytes()
    (work / 'iter_4.pth').write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').unlink()
    proc = _train(tmp_path, work, '--resume', max_iters=6)
    assert proc.returncode == 1
    assert f'newest checkpoint {work}/iter_4.pth is truncated' in proc.stderr
    assert f'Usable checkpoints: {work}/iter_2.pth' in proc.stderr
    assert 'Iter(train) [1/6]' not in proc.stdout  # no silent restart


def test_resume_names_the_checkpoint_it_resumes_from(tmp_path):
    work = tmp_path / 'work'
    assert _train(tmp_path, work, max_iters=2).returncode == 0
    proc = _train(tmp_path, work, '--resume', max_iters=4)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert f'--resume: resuming from {work}/iter_2.pth' in out
    assert 'Iter(train) [3/4]' in out and 'Iter(train) [1/4]' not in out
    # the pointer at a damaged file is an error too
    shutil.copy(work / 'iter_4.pth', tmp_path / 'keep.pth')
    (work / 'iter_4.pth').write_bytes(b'')
    proc = _train(tmp_path, work, '--resume', max_iters=6)
    assert proc.returncode == 1
    assert 'last_checkpoint names' in proc.stderr and 'iter_4.pth, which is empty' in proc.stderr


@pytest.mark.parametrize('resume', ['missing.pth', 'text.pth'])
def test_resume_from_a_bad_path_is_an_error(tmp_path, resume):
    from mmwsss.engine.resume import ResumeError, resolve_resume
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    with pytest.raises(ResumeError, match=rf'--resume .*{resume}: the file '):
        resolve_resume(str(tmp_path), str(tmp_path / resume))
    assert resolve_resume(str(tmp_path / 'empty_dir'))[0] is None
