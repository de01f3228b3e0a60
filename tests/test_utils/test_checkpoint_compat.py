"""torch>=2.6 weights_only loading of mmengine checkpoints (resume + refusal)."""
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmwsss  # noqa: F401  (registers the allow-list loader)
from mmwsss.utils.checkpoint_compat import UnsafeCheckpointError, safe_torch_load


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'loss':
            labels = torch.stack(labels) if isinstance(labels, list) else labels
            return dict(loss=((out - labels) ** 2).mean())
        return out


class _ToyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.]), labels=torch.tensor([float(i)]))


class _Evil:
    """An arbitrary object: loading it would run code from the pickle."""


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_ToyModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_ToyData(), sampler=dict(type='DefaultSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume, default_scope='mmengine',
        experiment_name=f'toy_{max_iters}_{resume}')


def test_mmengine_checkpoint_loads_with_weights_only_and_resumes(tmp_path):
    _runner(tmp_path, 2).train()
    ckpt = osp.join(tmp_path, 'iter_2.pth')
    # the real mmengine checkpoint carries HistoryBuffer + numpy in the message hub
    data = safe_torch_load(ckpt)
    assert data['meta']['iter'] == 2 and 'message_hub' in data
    # plain weights_only=True without our allow-list refuses it (the torch>=2.6 bug)
    with pytest.raises(Exception):
        torch.load(ckpt, weights_only=True)
    runner = _runner(tmp_path, 4, resume=True)
    runner.train()
    assert runner.iter == 4
    assert osp.exists(osp.join(tmp_path, 'iter_4.pth'))


def test_arbitrary_pickled_object_is_refused(tmp_path):
    path = osp.join(tmp_path, 'evil.pth')
    torch.save({'state_dict': {}, 'payload': _Evil()}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        safe_torch_load(path)
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(UnsafeCheckpointError, match='_Evil'):
        _load_checkpoint(path)


def test_missing_checkpoint_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_torch_load(osp.join(tmp_path, 'nope.pth'))


class _Holder:
    pass


def test_getattr_is_restricted_to_history_buffer_statistics(tmp_path):
    """A pickled getattr(<ndarray>, 'tofile') must not come back as a callable."""
    import pickle

    import numpy as np

    class _Sneaky:
        def __reduce__(self):
            return getattr, (np.zeros(1), 'tofile')

    path = osp.join(tmp_path, 'sneaky.pth')
    torch.save({'x': _Sneaky()}, path)
    with pytest.raises((UnsafeCheckpointError, pickle.UnpicklingError), match='getattr'):
        safe_torch_load(path)


def test_fresh_process_loads_checkpoint(tmp_path):
    """HistoryBuffer's statistics registry is empty in a new process: still loads."""
    import subprocess
    import sys
    _runner(tmp_path, 2).train()
    code = ('import mmwsss\nfrom mmengine.runner.checkpoint import _load_checkpoint\n'
            f'print(_load_checkpoint({str(osp.join(tmp_path, "iter_2.pth"))!r})["meta"]["iter"])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith('2')
