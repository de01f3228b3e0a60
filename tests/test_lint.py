"""The whole tree passes the OpenMMLab lint set-up (flake8, isort, yapf; setup.cfg)."""
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATHS = ['mmwsss', 'tools', 'tests', 'configs', 'projects', 'setup.py']


@pytest.mark.parametrize(
    'cmd', [
        ['-m', 'flake8', '-j', '2', *PATHS],
        ['-m', 'isort', '--check-only', '--diff', *PATHS],
        ['-m', 'yapf', '--diff', '--recursive', '--parallel', *PATHS],
    ],
    ids=['flake8', 'isort', 'yapf'])
def test_tree_is_lint_clean(cmd):
    proc = subprocess.run([sys.executable, *cmd],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not (cmd[1] == 'yapf' and out), out[-5000:]


def test_no_wheels_committed():
    tracked = subprocess.run(['git', 'ls-files', '*.whl'], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    assert tracked == [], tracked
