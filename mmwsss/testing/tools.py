"""Import the scripts under the repository's tools/ (not a package) in tests."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(rel_path: str) -> ModuleType:
    """``load_tool('tools/eval_pseudo_labels.py')`` -> the script as a module.

    Works from a source checkout (editable install), where tools/ sits next to
    the package.
    """
    path = osp.join(REPO_ROOT, rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{rel_path} not found under {REPO_ROOT}: the tools are '
                                'only available in a source checkout')
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
