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
            return dict(loss=((out - labels)**2).mean())
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
        model=_ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_ToyData(),
            sampler=dict(type='DefaultSampler'),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        default_scope='mmengine',
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


# --- issue 9 ------------------------------------------------------------------------------
class _Payload:
    """Pickles as ``os.system('touch <marker>')``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}', )


@pytest.mark.parametrize('zipfile_format', [True, False])
def test_malicious_checkpoint_refused_without_unsafe_hint(tmp_path, zipfile_format):
    """The payload never runs, the message names file and global, and torch's
    "Re-running with weights_only=False will likely succeed" is not passed on."""
    import traceback
    marker = tmp_path / 'PWNED'
    path = str(tmp_path / 'evil.pth')
    torch.save({
        'state_dict': {
            'w': torch.zeros(2)
        },
        'meta': _Payload(marker)
    },
               path,
               _use_new_zipfile_serialization=zipfile_format)
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_torch_load(path)
    text = ''.join(traceback.format_exception(info.value))  # the whole chain as shown
    assert 'evil.pth' in text and 'posix.system' in text
    assert 'likely succeed' not in text and 'weights_only` set to `False' not in text
    from mmengine.runner.checkpoint import _load_checkpoint  # what Runner.resume calls
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(path)
    assert not marker.exists()


def _real_checkpoint(tmp_path):
    _runner(tmp_path, 2).train()
    return osp.join(tmp_path, 'iter_2.pth')


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'text'])
def test_damaged_checkpoint_named(tmp_path, damage):
    good = open(_real_checkpoint(tmp_path), 'rb').read()
    path = str(tmp_path / f'{damage}.pth')
    with open(path, 'wb') as f:
        f.write({
            'truncated': good[:len(good) // 2],
            'empty': b'',
            'text': b'epoch 4, loss 0.3\n'
        }[damage])
    from mmwsss.utils.checkpoint_compat import InvalidCheckpointError
    with pytest.raises(InvalidCheckpointError, match=rf'{damage}\.pth is not a valid checkpoint'):
        safe_torch_load(path)


class _Net(torch.nn.Module):

    def __init__(self, out=20):
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 4, 1)
        self.head = torch.nn.Conv2d(4, out, 1)


def test_strict_loader_names_checkpoint_and_keys(tmp_path):
    from mmwsss.utils.checkpoint_compat import CheckpointMismatchError, load_checkpoint_strict
    path = str(tmp_path / 'coco80.pth')
    torch.save({'state_dict': _Net(80).state_dict(), 'meta': {}}, path)
    with pytest.raises(
            CheckpointMismatchError,
            match=r'coco80\.pth does not match .*shape mismatch for head\.weight '
            r'\(checkpoint \(80, 4, 1, 1\), model \(20, 4, 1, 1\)\)'):
        load_checkpoint_strict(_Net(20), path)
    state = _Net(20).state_dict()
    state.pop('backbone.bias')
    state['extra.w'] = torch.zeros(1)
    torch.save({'state_dict': state}, path)
    with pytest.raises(
            CheckpointMismatchError,
            match=r'missing keys backbone\.bias; unexpected keys extra\.w'):
        load_checkpoint_strict(_Net(20), path)
    state = _Net(20).state_dict()
    state['head.bias'][3] = float('nan')
    torch.save({'state_dict': {'module.' + k: v for k, v in state.items()}}, path)
    with pytest.raises(CheckpointMismatchError, match=r'NaN / inf values in head\.bias'):
        load_checkpoint_strict(_Net(20), path)
    # an exact fit loads (DDP 'module.' prefix dropped)
    state = _Net(20).state_dict()
    torch.save({'state_dict': {'module.' + k: v for k, v in state.items()}}, path)
    net = _Net(20)
    load_checkpoint_strict(net, path)
    assert torch.equal(net.head.weight, state['head.weight'])
