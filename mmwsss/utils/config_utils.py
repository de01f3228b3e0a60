"""Config helpers shared by the tools."""
from typing import Any, Optional

from mmengine.config import Config


def set_data_root(cfg: Any, data_root: str) -> int:
    """Point every ``*_dataloader.dataset`` (and nested ``datasets``) at ``data_root``.

    mmengine configs evaluate ``data_root`` when the base file is parsed, so
    overriding the variable alone does not reach the dataloaders; the tools'
    ``--data-root`` calls this instead. Returns how many datasets were changed.
    """
    cfg.data_root = data_root
    changed = 0

    def _visit(ds: dict) -> None:
        nonlocal changed
        if 'data_root' in ds:
            ds['data_root'] = data_root
            changed += 1

    for key in list(cfg.keys()):
        if key.endswith('_dataloader') and isinstance(cfg[key], dict):
            _walk_datasets(cfg[key].get('dataset'), _visit)
    return changed


def _walk_datasets(ds, visit) -> None:
    if not isinstance(ds, dict):
        return
    visit(ds)
    for key in ('dataset', 'datasets'):
        sub = ds.get(key)
        for item in (sub if isinstance(sub, (list, tuple)) else [sub]):
            _walk_datasets(item, visit)


def set_pseudo_label_dir(cfg: Any, label_dir: str, dataloader: str = 'train_dataloader') -> int:
    """Point the ``pseudo_label_dir`` of every dataset under ``cfg[dataloader]`` at
    ``label_dir`` (stage-2 configs name it in a variable that mmengine resolves when
    the file is parsed, so a variable override would not reach the dataset).

    Returns how many datasets were changed; a config whose dataloader has no
    ``pseudo_label_dir`` anywhere is an error naming the config, since training it on
    the labels it was given would silently train on something else.
    """
    found = []

    def _set(ds: dict) -> None:
        if 'pseudo_label_dir' in ds:
            ds['pseudo_label_dir'] = label_dir
            found.append(ds.get('type'))
            # transforms that read files next to the labels (LoadConfidenceMask's
            # confidence maps) name the same folder: they must follow it
            for t in ds.get('pipeline') or []:
                if isinstance(t, dict) and 'label_dir' in t:
                    t['label_dir'] = label_dir

    _walk_datasets((cfg.get(dataloader) or {}).get('dataset'), _set)
    if not found:
        raise KeyError(f'{getattr(cfg, "filename", "the config")}: no dataset under '
                       f"{dataloader} has a 'pseudo_label_dir' to point at {label_dir}")
    return len(found)


def use_atomic_checkpoints(cfg: Any) -> bool:
    """Run the config's ``CheckpointHook`` as ``AtomicCheckpointHook`` (same arguments).

    mmengine's hook writes checkpoints in place, so a crash during a save leaves
    a truncated file; the atomic one writes a temporary file and renames it.
    Returns whether the hook was replaced.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(hook, dict) and hook.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        hook['type'] = 'mmwsss.AtomicCheckpointHook'
        return True
    return False


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                data_root: Optional[str] = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options`` + ``--data-root``, in the tools' order."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if data_root:
        set_data_root(cfg, data_root)
    return cfg
