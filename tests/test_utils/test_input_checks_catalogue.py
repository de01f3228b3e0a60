"""docs/en/input_checks.md and the tests it names stay in sync."""
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(REPO, 'docs', 'en', 'input_checks.md')
# test files written for issue 9: every test in them must be in the catalogue
ISSUE9_FILES = ('tests/test_datasets/test_label_file_checks.py',
                'tests/test_engine/test_atomic_checkpoint.py', 'tests/test_tools/test_test_tool.py',
                'tests/test_utils/test_io.py', 'tests/test_utils/test_checks.py')


def _references():
    text = open(DOC, encoding='utf-8').read()
    return set(re.findall(r'`(tests/[\w/]+\.py)::(\w+)`', text))


def _tests_in(rel_path):
    with open(osp.join(REPO, rel_path), encoding='utf-8') as f:
        return set(re.findall(r'^def (test_\w+)\(', f.read(), flags=re.M))


def test_every_named_test_exists():
    refs = _references()
    assert len(refs) > 40
    missing = sorted(f'{path}::{name}' for path, name in refs
                     if not osp.isfile(osp.join(REPO, path)) or name not in _tests_in(path))
    assert not missing, f'docs/en/input_checks.md names tests that do not exist: {missing}'


def test_every_issue9_test_is_in_the_catalogue():
    refs = _references()
    absent = sorted(f'{path}::{name}' for path in ISSUE9_FILES for name in _tests_in(path)
                    if (path, name) not in refs)
    assert not absent, f'tests missing from docs/en/input_checks.md: {absent}'
