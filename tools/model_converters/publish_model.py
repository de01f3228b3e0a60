"""Publish a trained checkpoint the OpenMMLab way: weights and meta only, hash in the name.

    python tools/model_converters/publish_model.py \
        work_dirs/toco_coco-mini/iter_400.pth \
        work_dirs/publish/toco_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168 \
        --metafile-entry configs/toco/toco_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py

1. reads IN.pth with mmwsss's safe loader (``torch.load(weights_only=True)`` plus the
   allow-listed mmengine types: mmwsss/utils/checkpoint_compat.py);
2. keeps ``meta`` and ``state_dict`` only: the optimizer, ``param_schedulers`` and
   ``message_hub`` state (and anything else a Runner checkpoint carries) are dropped;
3. saves to a temporary file next to the output, hashes it (sha256) and renames it
   atomically to ``OUT_STEM-<first 8 hex digits>.pth``: a crash leaves no half-written
   ``.pth`` behind;
4. checks that the published file loads under the safe loader with exactly those keys and
   the same tensors; with ``--metafile-entry CONFIG`` it also builds CONFIG's model and
   loads the file into it strictly (every key, every shape, no NaN);
5. prints the metafile ``Weights`` entry (with ``--metafile-entry``: the whole model entry
   of that config's metafile.yaml, Weights filled in, ready to paste).

Published checkpoints stay out of git (``*.pth`` is ignored); the Weights entry names
where they are hosted (``--base-url``) or their local path.
"""
import argparse
import hashlib
import os.path as osp
import sys
from typing import Optional

import torch
import yaml

KEEP_KEYS = ('meta', 'state_dict')


def sha256sum(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def strip_checkpoint(ckpt: dict) -> dict:
    """``{'meta', 'state_dict'}`` of a Runner checkpoint (a bare state dict is wrapped)."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'a checkpoint is a dict, got {type(ckpt).__name__}')
    if 'state_dict' not in ckpt:
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return {'meta': {}, 'state_dict': dict(ckpt)}  # a bare state dict
        raise KeyError(f'checkpoint has no state_dict (keys: {sorted(ckpt)})')
    return {'meta': dict(ckpt.get('meta') or {}), 'state_dict': ckpt['state_dict']}


def save_atomic_hashed(ckpt: dict, out_stem: str) -> str:
    """``torch.save`` into memory, then write ``OUT_STEM-<sha8>.pth`` atomically (the
    repository's one atomic writer: a crash leaves no half-written file, and the file gets
    the usual permissions, not a temporary file's 0600)."""
    import io

    from mmwsss.utils.io import atomic_write_bytes
    if out_stem.endswith('.pth'):
        out_stem = out_stem[:-len('.pth')]
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    data = buf.getvalue()
    final = f'{out_stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    atomic_write_bytes(final, data)
    return final


def verify(path: str, expected: dict) -> dict:
    """Load ``path`` with the safe loader; it must hold exactly ``expected``'s tensors."""
    from mmwsss.utils.checkpoint_compat import safe_torch_load
    loaded = safe_torch_load(path, map_location='cpu')
    if sorted(loaded) != sorted(KEEP_KEYS):
        raise RuntimeError(f'{path}: keys {sorted(loaded)}, expected {list(KEEP_KEYS)}')
    want, got = expected['state_dict'], loaded['state_dict']
    if list(want) != list(got):
        raise RuntimeError(f'{path}: state_dict keys differ from the source checkpoint')
    for key, value in want.items():
        if not torch.equal(value.cpu(), got[key]):
            raise RuntimeError(f'{path}: tensor {key} differs from the source checkpoint')
    return loaded


def check_loads_into_config(path: str, config: str) -> None:
    """Build ``config``'s model (no pretrained weights) and load ``path`` strictly."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmwsss.registry import MODELS
    from mmwsss.utils import register_all_modules
    from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
    cfg = Config.fromfile(config)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    model = MODELS.build(cfg.model)  # no init_weights(): the checkpoint brings every weight
    load_checkpoint_strict(model, path)


def metafile_entry(config: str, weights: str) -> Optional[dict]:
    """The model entry of ``config`` (Name = its stem) in its folder's metafile.yaml, with
    ``Weights`` set."""
    name = osp.splitext(osp.basename(config))[0]
    meta_path = osp.join(osp.dirname(osp.abspath(config)), 'metafile.yaml')
    if not osp.isfile(meta_path):
        return None
    with open(meta_path) as f:
        meta = yaml.safe_load(f)
    for model in meta.get('Models') or []:
        if model.get('Name') == name:
            entry = {k: v for k, v in model.items() if k != 'Weights'}
            entry['Weights'] = weights
            return entry
    return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file', help='checkpoint written by the Runner (iter_N.pth ...)')
    parser.add_argument(
        'out_stem',
        help='output path without the -<sha8>.pth suffix; '
        'by convention the config stem')
    parser.add_argument(
        '--metafile-entry',
        metavar='CONFIG',
        help='config the checkpoint belongs to: load it into its model '
        'strictly and print its metafile entry with Weights filled in')
    parser.add_argument(
        '--base-url',
        default=None,
        help='where the file will be hosted; Weights = BASE_URL/<file name> '
        '(default: the local path)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    from mmwsss.utils.checkpoint_compat import safe_torch_load
    src = safe_torch_load(args.in_file, map_location='cpu')
    stripped = strip_checkpoint(src)
    dropped = sorted(set(src) - set(KEEP_KEYS)) if 'state_dict' in src else []
    final = save_atomic_hashed(stripped, args.out_stem)
    verify(final, stripped)
    if args.metafile_entry:
        check_loads_into_config(final, args.metafile_entry)
    weights = (args.base_url.rstrip('/') + '/' + osp.basename(final)) if args.base_url else final
    print(f'published {final}')
    print(f'  sha256 {sha256sum(final)}')
    print(f'  kept {list(KEEP_KEYS)}, dropped {dropped or "nothing"}; '
          f'{osp.getsize(args.in_file)} -> {osp.getsize(final)} bytes')
    entry = metafile_entry(args.metafile_entry, weights) if args.metafile_entry else None
    if args.metafile_entry and entry is None:
        print(
            f'  note: {args.metafile_entry} has no entry in its metafile.yaml; add one',
            file=sys.stderr)
    print('metafile entry:')
    text = yaml.safe_dump(
        [entry] if entry else {'Weights': weights}, sort_keys=False, width=90, allow_unicode=True)
    print(text.rstrip())
    return final


if __name__ == '__main__':
    main()
