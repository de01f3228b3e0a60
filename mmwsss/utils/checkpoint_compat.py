"""Load mmengine checkpoints under torch>=2.6's ``weights_only=True``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
that means the restricted unpickler, which refuses the few non-tensor types an
mmengine checkpoint carries (``HistoryBuffer`` in the message hub, numpy arrays
and scalars in the logs). Rather than switching the safety off globally we
allow-list exactly those types and route local checkpoint loading through a
loader that reports a refused object clearly (file and offending global).

Two more things every checkpoint read gets here:

* a file that is not a checkpoint at all (truncated by a crash, empty, text)
  raises :class:`InvalidCheckpointError` naming the file, instead of torch's
  stream error, a bare ``EOFError`` or ``KeyError: 101``;
* torch's advice to re-run with ``weights_only=False`` is dropped from the
  refusal message: for a file that pickles an arbitrary object that advice is
  the code execution the refusal prevents.

:func:`load_checkpoint_strict` is the loader for evaluation and pseudo labels: a
checkpoint that does not fit the model exactly (missing, unexpected or
mismatched keys, NaN / inf weights) is an error naming the file and the keys.
"""
import os.path as osp
import pickle
import re
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

_REGISTERED = False


def _numpy_globals() -> list:
    """numpy types that appear in pickled arrays / scalars of the message hub."""
    try:  # numpy>=1.25 moved these; keep both spellings working
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover
        from numpy._core.multiarray import _reconstruct, scalar
    items = [_reconstruct, scalar, np.ndarray, np.dtype]
    # dtype classes (np.dtypes.Float64DType ...) are pickled by class reference
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        for name in dir(dtypes_mod):
            obj = getattr(dtypes_mod, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                items.append(obj)
    return items


def _history_buffer_getattr(obj, name: str):
    """Stand-in for ``builtins.getattr`` inside checkpoints.

    A pickled ``HistoryBuffer`` stores its statistics as bound methods, which
    pickle writes as ``getattr(HistoryBuffer, 'mean')``. Allowing the real getattr would
    let a crafted file fetch any attribute of any object it builds; this one only
    returns a registered statistics method of a HistoryBuffer.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    # the registry of statistics is filled lazily (first HistoryBuffer()), so the
    # built-in ones are listed explicitly for a fresh process
    allowed = set(HistoryBuffer._statistics_methods) | {'min', 'max', 'current', 'mean'}
    if is_buffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({type(obj).__name__}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed')


def mmengine_safe_globals() -> list:
    """The exact list of non-torch globals that mmengine checkpoints need."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()]


class UnsafeCheckpointError(RuntimeError):
    """Raised when a checkpoint holds a pickled object outside the allow-list."""


class InvalidCheckpointError(ValueError):
    """The file is not a readable torch checkpoint (truncated, empty, other format)."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's state dict does not fit the model exactly."""


_GLOBAL_RE = re.compile(r'GLOBAL (\S+)')
# torch's weights-only error lines that are advice, not diagnosis
_ADVICE = ('weights_only', 'Weights only load failed', 'trust the source', 'file an issue',
           'Check the documentation', 'add_safe_globals', 'safe_globals(', 'trusted source')


def _diagnosis(message: str) -> str:
    """The part of torch's weights-only error that says what is in the file.

    The advice around it, in particular "Re-running `torch.load` with
    `weights_only` set to `False` will likely succeed", invites exactly the
    unsafe load this module exists to prevent, so it is dropped.
    """
    keep = []
    for line in message.replace('WeightsUnpickler error:', '\n').splitlines():
        line = line.strip()
        # the allow-listing advice follows the diagnosis in the same sentence
        line = re.split(r'\. Please use `torch\.serialization', line)[0]
        if line and not any(a in line for a in _ADVICE):
            keep.append(line.rstrip('.'))
    return '; '.join(keep)


def safe_torch_load(filename: str, map_location: Union[str, Callable, None] = None) -> dict:
    """``torch.load(weights_only=True)`` with mmengine's types allowed.

    Raises:
        FileNotFoundError: the checkpoint file does not exist.
        UnsafeCheckpointError: the file pickles an arbitrary object (the message
            names the file and the object's ``module.name``).
        InvalidCheckpointError: the file is not a readable checkpoint (truncated,
            empty, text ...).
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if osp.getsize(filename) == 0:
        raise InvalidCheckpointError(f'{filename} is not a valid checkpoint: the file is empty '
                                     '(an interrupted save?)')
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as e:
            message = str(e)
            bad = _unsafe_globals(filename) or [g.rstrip('.') for g in _GLOBAL_RE.findall(message)]
            if not bad and 'Unsupported operand' in message:
                # a byte that is no pickle opcode: the file is not a torch pickle at all
                raise InvalidCheckpointError(
                    f'{filename} is not a valid checkpoint (not a torch.save file): '
                    f'{_diagnosis(message)}') from None
            # from None: torch's own message (with its 'weights_only=False' advice)
            # must not reach the user through the exception chain either
            raise UnsafeCheckpointError(
                f'Refusing to load checkpoint {filename}: it contains pickled '
                f'objects that are not allow-listed ({", ".join(bad) or _diagnosis(message)}).'
                ' mmwsss loads checkpoints with torch weights_only=True, so a file cannot '
                'run code; if this file is yours, re-save its state_dict (tensors only) '
                'with a trusted torch installation.') from None
        except (RuntimeError, EOFError, KeyError, ValueError, IndexError, OSError, AttributeError,
                TypeError) as e:
            # what torch raises for a truncated zip, an empty stream, a text file ...
            raise InvalidCheckpointError(
                f'{filename} is not a valid checkpoint (truncated, corrupt or not written '
                f'by torch.save): {type(e).__name__}: {str(e)[:300]}') from None


def _unsafe_globals(filename: str) -> List[str]:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: nothing more to report
        return []
    allowed = {
        g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
        for g in mmengine_safe_globals()
    }
    return [n for n in names if n not in allowed]


def _state_dict_of(ckpt: dict, filename: str) -> Dict[str, torch.Tensor]:
    if not isinstance(ckpt, dict):
        raise InvalidCheckpointError(f'{filename}: expected a dict (a state_dict or an '
                                     f'mmengine checkpoint), got {type(ckpt).__name__}')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidCheckpointError(f'{filename}: its state_dict is not a dict of tensors')
    return state


def _listing(items: Sequence[str], limit: int = 10) -> str:
    more = f' ... and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def load_checkpoint_strict(
    model: torch.nn.Module,
    filename: str,
    map_location: Union[str, Callable, None] = 'cpu',
    revise_keys: Sequence = ((r'^module\.', ''), )
) -> dict:
    """Load ``filename`` into ``model``, refusing anything but an exact fit.

    mmengine's ``load_checkpoint(strict=False)`` (what the Runner uses for
    ``load_from``) only logs a warning for a size mismatch and leaves the
    model's random weights in place; scoring such a model reports a number for
    weights nobody trained. Here every missing, unexpected or shape-mismatched
    key is an error naming the file and the keys (the same on every rank), and
    so are NaN / inf weights.

    Args:
        model: the (unwrapped) model.
        filename: local checkpoint path (read with :func:`safe_torch_load`).
        map_location: as in ``torch.load``.
        revise_keys: ``(pattern, replacement)`` pairs applied to the keys
            (default: drop a DDP ``module.`` prefix).

    Returns:
        dict: the loaded checkpoint (``meta`` etc. included).
    """
    ckpt = safe_torch_load(filename, map_location=map_location)
    state = _state_dict_of(ckpt, filename)
    for pattern, repl in revise_keys:
        state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})' for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    if mismatched:
        problems.append(f'shape mismatch for {_listing(mismatched)}')
    if missing:
        problems.append(f'missing keys {_listing(missing)}')
    if unexpected:
        problems.append(f'unexpected keys {_listing(unexpected)}')
    if problems:
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not match the model {type(model).__name__}: ' +
            '; '.join(problems) + '. Evaluation and pseudo labels need every weight '
            'from the checkpoint (is it the checkpoint of this config?)')
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise CheckpointMismatchError(f'checkpoint {filename} has NaN / inf values in '
                                      f'{_listing(bad)} (diverged training?)')
    model.load_state_dict(state, strict=True)
    return ckpt


def _load_from_local(filename: str, map_location: Optional[str] = None) -> dict:
    filename = osp.expanduser(filename)
    return safe_torch_load(filename, map_location=map_location)


def register_safe_globals() -> None:
    """Allow-list mmengine checkpoint types and route local loads through them.

    Idempotent. Affects only mmengine's local-file scheme (``CheckpointLoader``
    prefix ''), which ``Runner.resume``/``load_checkpoint`` use.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
    _REGISTERED = True
