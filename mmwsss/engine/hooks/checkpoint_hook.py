"""Checkpoints that a crash cannot truncate.

mmengine's ``CheckpointHook`` writes ``iter_N.pth`` with a plain ``open(...,
'wb')``: a process killed during the write leaves a truncated file under the
final name. :class:`AtomicCheckpointHook` is the same hook writing through
:class:`AtomicLocalBackend`, whose ``put`` goes to ``.iter_N.pth.<id>.tmp``,
fsyncs it and renames it into place, so ``iter_N.pth`` is complete or absent.
The temporary files of a killed run are removed when the next run starts.
"""
import os
import os.path as osp
from typing import Optional, Union

from mmengine.dist import is_main_process
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from mmwsss.registry import HOOKS
from mmwsss.utils.io import atomic_write_bytes, remove_stale_temp_files

ATOMIC_BACKEND = 'mmwsss_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write_bytes(str(filepath), obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(str(filepath), obj.encode(encoding))


# force: re-importing this module (tests, reloads) must not fail on the name
register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def _is_local(path: Optional[str]) -> bool:
    return path is None or '://' not in str(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoint files are written atomically.

    Every argument is :class:`mmengine.hooks.CheckpointHook`'s. For a local
    ``out_dir`` (the default, the work dir) without ``backend_args`` /
    ``file_client_args``, files go through :class:`AtomicLocalBackend`; for a
    remote ``out_dir`` the hook behaves exactly like ``CheckpointHook``.
    ``tools/train.py`` uses it in place of ``CheckpointHook``.

    Example::

        default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook',
                                             by_epoch=False, interval=100))
    """

    def __init__(self,
                 *args,
                 out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.atomic = backend_args is None and file_client_args is None and _is_local(out_dir)
        if self.atomic:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(
            *args,
            out_dir=out_dir,
            backend_args=backend_args,
            file_client_args=file_client_args,
            **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.atomic and is_main_process():
            # no save has started yet: any temporary file is a killed run's leftover
            stale = remove_stale_temp_files(self.out_dir, recursive=False)
            if stale:
                runner.logger.warning(
                    f'removed {len(stale)} partial checkpoint file(s) of an interrupted '
                    f'save: {", ".join(osp.basename(p) for p in stale)}')
