"""What ``tools/train.py --resume`` resumes from, said out loud.

mmengine's auto-resume reads ``work_dir/last_checkpoint``; when that file is
missing (a run killed during its first save) it logs "Auto resumed from the
latest checkpoint None" and silently trains from iteration 0, next to a
truncated ``iter_N.pth``. :func:`resolve_resume` decides instead, and checks the
file it picks: it returns the checkpoint to resume from, or None with the
reason, and raises when the newest checkpoint is damaged (it is never skipped
silently in favour of an older one or of a fresh start).
"""
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

_CKPT_RE = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


class ResumeError(RuntimeError):
    """--resume cannot go on (the message says why and what to do)."""


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be a checkpoint (missing, empty, truncated), or None.

    Cheap: only the zip directory torch.save writes at the end of the file is
    read, which is exactly what a crash during the save leaves out.
    """
    if not osp.isfile(path):
        return 'does not exist'
    size = osp.getsize(path)
    if size == 0:
        return 'is empty (0 bytes)'
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        return f'is truncated or not a torch checkpoint ({size} bytes; {e})'
    if not any(n.endswith('/data.pkl') or n == 'data.pkl' for n in names):
        return f'is a zip file without data.pkl ({size} bytes), not a torch checkpoint'
    return None


def list_checkpoints(work_dir: str) -> List[str]:
    """``iter_*.pth`` / ``epoch_*.pth`` in ``work_dir``, oldest first (by number)."""
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        m = _CKPT_RE.match(name)
        if m:
            found.append((m.group(1), int(m.group(2)), osp.join(work_dir, name)))
    return [p for _, _, p in sorted(found)]


def resolve_resume(work_dir: str, resume: str = 'auto') -> Tuple[Optional[str], str]:
    """The checkpoint ``--resume`` should load, and a sentence saying so.

    Args:
        work_dir: the run's work dir.
        resume: ``'auto'`` (latest in ``work_dir``) or a checkpoint path.

    Returns:
        ``(path, message)``; ``path`` is None when ``work_dir`` holds no
        checkpoint at all (training then starts from iteration 0, as the
        message says).

    Raises:
        ResumeError: the given / newest checkpoint is missing or damaged; the
            message names it, says what is wrong and lists the usable ones.
    """
    if resume != 'auto':
        problem = checkpoint_problem(resume)
        if problem:
            raise ResumeError(f'--resume {resume}: the file {problem}')
        return resume, f'--resume: resuming from {resume}'
    pointer = osp.join(work_dir, 'last_checkpoint')
    candidates = list_checkpoints(work_dir)
    usable = [p for p in candidates if checkpoint_problem(p) is None]
    hint = (f' Usable checkpoints: {", ".join(usable)}; resume from one with --resume PATH '
            'or delete the damaged file.' if usable else
            ' No usable checkpoint is left; delete the damaged file to train from scratch.')
    latest = None
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            latest = f.read().strip() or None
        if latest is None:
            raise ResumeError(f'--resume: {pointer} is empty (a save was interrupted).' + hint)
        if not osp.isabs(latest) and not osp.exists(latest):
            latest = osp.join(work_dir, osp.basename(latest))
        where = f'{pointer} names {latest}, which'
    elif candidates:
        # no pointer: mmengine would start from scratch; take the newest file instead
        latest = candidates[-1]
        where = f'{work_dir} has no last_checkpoint; its newest checkpoint {latest}'
    if latest is None:
        return None, (f'--resume: no checkpoint in {work_dir}, so there is nothing to resume: '
                      'training starts from iteration 0')
    problem = checkpoint_problem(latest)
    if problem:
        raise ResumeError(f'--resume: {where} {problem}.' + hint)
    return latest, f'--resume: resuming from {latest}'
