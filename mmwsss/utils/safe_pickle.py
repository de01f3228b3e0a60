"""Read pickled numpy data without running code from the file.

A pickle can call any importable function while it is read (``__reduce__``), so
``np.load(allow_pickle=True)`` on a downloaded file is code execution. The only
pickles mmwsss has to read are psa/IRN's ``cls_labels.npy`` (a pickled dict of
numpy vectors); :func:`load_pickled_npy` reads such files through an unpickler
that resolves no global except numpy's array / scalar / dtype reconstruction.
Dicts, lists, tuples, strings, numbers and bytes are pickle opcodes and need no
global, so they load; anything else is refused before it is built, with the
file and the offending ``module.name`` in the message.
"""
import pickle
from typing import Any, FrozenSet, Tuple

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""


def _numpy_globals() -> FrozenSet[Tuple[str, str]]:
    allowed = set()
    # numpy 1.x pickles as numpy.core.multiarray, numpy 2.x as numpy._core.multiarray;
    # a file written by either must load
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed |= {(mod, '_reconstruct'), (mod, 'scalar')}
    allowed |= {('numpy', 'ndarray'), ('numpy', 'dtype')}
    dtypes_mod = getattr(np, 'dtypes', None)  # numpy>=1.25 pickles dtype classes by name
    if dtypes_mod is not None:
        for name in dir(dtypes_mod):
            obj = getattr(dtypes_mod, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                allowed.add(('numpy.dtypes', name))
    return frozenset(allowed)


_ALLOWED = _numpy_globals()


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` admits only numpy array/scalar/dtype rebuilding.

    Args:
        file: binary file object positioned at the pickle.
        source: name used in error messages (the file path).
    """

    def __init__(self, file, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f'{self.source}: refusing to unpickle {module}.{name}: this file may only '
            'hold dicts, lists, strings, numbers and numpy arrays (anything else could '
            'run code while it is read)')

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f'{self.source}: refusing a persistent id in the pickle')


def _read_npy_header(f, path: str) -> Tuple[tuple, bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
    except ValueError as e:
        raise ValueError(f'{path} is not a .npy file: {e}') from None
    raise ValueError(f'{path}: unsupported .npy format version {version}')


def load_pickled_npy(path: str) -> np.ndarray:
    """``np.load(path, allow_pickle=True)`` for object arrays, without running code.

    Numeric ``.npy`` files are read by numpy with ``allow_pickle=False``.

    Raises:
        UnsafePickleError: the pickle names a global outside the allow-list
            (message: file and ``module.name``).
        ValueError: not a readable ``.npy`` file (truncated, other format).
    """
    with open(path, 'rb') as f:
        shape, fortran, dtype = _read_npy_header(f, path)
        if not dtype.hasobject:
            f.seek(0)
            try:
                return np.load(f, allow_pickle=False)
            except Exception as e:
                raise ValueError(f'{path}: cannot read the {dtype} array: {e}') from None
        try:
            array = NumpyOnlyUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # truncated pickle, bad opcode ...
            raise ValueError(f'{path}: cannot read the pickled object array '
                             f'({type(e).__name__}: {e})') from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f'{path}: expected a pickled numpy array after the .npy header, '
                         f'got {type(array).__name__}')
    return array
