"""Load mmengine checkpoints under torch>=2.6's ``weights_only=True``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
that means the restricted unpickler, which refuses the few non-tensor types an
mmengine checkpoint carries (``HistoryBuffer`` in the message hub, numpy arrays
and scalars in the logs). Rather than switching the safety off globally we
allow-list exactly those types and route local checkpoint loading through a
loader that reports a refused object clearly (file and offending global).
"""
import os.path as osp
import pickle
from typing import Callable, List, Optional, Union

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
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
            *_numpy_globals()]


class UnsafeCheckpointError(RuntimeError):
    """Raised when a checkpoint holds a pickled object outside the allow-list."""


def safe_torch_load(filename: str,
                    map_location: Union[str, Callable, None] = None) -> dict:
    """``torch.load(weights_only=True)`` with mmengine's types allowed.

    Raises:
        FileNotFoundError: the checkpoint file does not exist.
        UnsafeCheckpointError: the file pickles an arbitrary object.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as e:
            bad = _unsafe_globals(filename)
            raise UnsafeCheckpointError(
                f'Refusing to load checkpoint {filename}: it contains pickled '
                f'objects that are not allow-listed ({", ".join(bad) or e}). '
                'mmwsss loads checkpoints with torch weights_only=True; if you '
                'trust this file, convert it to a plain state_dict first.') from e


def _unsafe_globals(filename: str) -> List[str]:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: nothing more to report
        return []
    allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
               for g in mmengine_safe_globals()}
    return [n for n in names if n not in allowed]


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
