"""Simulate ``kill -9`` in the middle of a file write (imported in a subprocess).

With ``MMWSSS_CRASH_WRITE=<regex>`` set, the first binary write of at least
``MMWSSS_CRASH_MIN_BYTES`` (default 1) bytes to a file whose name matches the regex
writes half of the data, flushes it to disk and SIGKILLs the process: no
``finally`` block, no atexit, exactly what a crash leaves. Both ``open()`` and
``os.fdopen()`` go through ``io.open``, so writers of either kind are caught.
"""
import builtins
import io
import os
import re
import signal

_PATTERN = re.compile(os.environ.get('MMWSSS_CRASH_WRITE', r'(?!)'))
_MIN_BYTES = int(os.environ.get('MMWSSS_CRASH_MIN_BYTES', '1'))
_open = io.open


class _DyingFile:
    """Proxy of a binary file whose big enough write is the last thing that happens."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        if len(data) >= _MIN_BYTES:
            self._f.write(bytes(data)[:len(data) // 2])
            self._f.flush()
            os.fsync(self._f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return self._f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._f, name)


def _name_of(file, f) -> str:
    if isinstance(file, int):  # os.fdopen: recover the path from the descriptor
        try:
            return os.readlink(f'/proc/self/fd/{file}')
        except OSError:
            return ''
    return os.fspath(file) if isinstance(file, (str, bytes, os.PathLike)) else ''


def _crashing_open(file, mode='r', *args, **kwargs):
    f = _open(file, mode, *args, **kwargs)
    name = _name_of(file, f)
    if 'w' in mode and 'b' in mode and isinstance(name, str) \
            and _PATTERN.search(os.path.basename(name)):
        return _DyingFile(f)
    return f


io.open = builtins.open = _crashing_open
