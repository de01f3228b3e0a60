"""POLE's offline class-token selection (official ``clip_selection.py``, reimplemented).

    python tools/pole_select_prompts.py CONFIG CAM_CHECKPOINT --out FILE.json \
        [--data-root ROOT] [--cfg-options ...] [--overwrite] [--save-every N]

CONFIG is a POLE config (configs/pole/): its ``model`` is the CLIMS classifier, whose
CAMs (``model.test_cfg.cam``: IRN's ``make_cam``, max-normalised, at the image size)
are the baseline CAMs of the selection; its ``pole_selection`` dict says how to select:

    clip          the frozen CLIP (OpenCLIP config; POLE: OpenAI ViT-B/32)
    dataset       'voc' | 'coco': the built-in candidates (mmwsss/models/foundation/
                  pole_synonyms.py, ours)
    candidates    None, or a user JSON file {class name or index: [token, ...]}
    template      'A photo of {}.'
    clip_size     224
    bgr, uint8_wrap   the official script's quirks (default False: RGB, no wrap)
    dataloader    the images to select for (default: pseudo_label_dataloader, the train
                  split with the test pipeline)
    seed          torch seed set before building CLIP (random weights are then the same
                  in every run)

CAM_CHECKPOINT is the baseline CAM classifier POLE starts from: a configs/cam checkpoint
(keys ``backbone.*`` / ``decode_head.*``, mapped onto the config's CAM branch and head)
or a checkpoint of the config itself; it must fit exactly (errors name the file and
keys).

Output: ``{image key: {class index: chosen token}}`` (JSON; the key is the image path
relative to the dataset's image folder, without extension). Written atomically every
``--save-every`` images and at the end; a rerun skips the images already in FILE
(``--overwrite`` starts again), so a killed run resumes.
"""
import argparse
import os
import os.path as osp
import time
from typing import Dict, List

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader, Subset

import mmwsss  # noqa: F401  (registries, checkpoint allow-list)
from mmwsss.apis.pseudo_labels import load_rgb, output_keys
from mmwsss.models.foundation.pole_selection import (candidate_prompts, read_pole_prompts,
                                                     select_image_tokens)
from mmwsss.models.foundation.pole_synonyms import POLE_TEMPLATE, pole_candidates
from mmwsss.registry import DATASETS, MODELS
from mmwsss.structures import stack_img_labels
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.io import atomic_write_json, is_temp_name

SELECTION_DEFAULTS = dict(
    clip=None,
    dataset='voc',
    candidates=None,
    template=POLE_TEMPLATE,
    clip_size=224,
    clip_pool='tok',
    bgr=False,
    uint8_wrap=False,
    dataloader=None,
    seed=0)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='POLE per-image class-token selection')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='the baseline CAM classifier')
    parser.add_argument('--out', required=True, help='the JSON file to write')
    parser.add_argument('--overwrite', action='store_true', help='ignore an existing --out')
    parser.add_argument('--save-every', type=int, default=100, help='images between saves')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: auto)')
    parser.add_argument('--data-root', help='dataset root used by every dataloader')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='key=value pairs')
    return parser.parse_args(argv)


def selection_settings(cfg) -> dict:
    """``cfg.pole_selection`` over :data:`SELECTION_DEFAULTS` (unknown keys refused)."""
    user = dict(cfg.get('pole_selection', None) or {})
    unknown = set(user) - set(SELECTION_DEFAULTS)
    if unknown:
        raise KeyError(f'pole_selection: unknown keys {sorted(unknown)} '
                       f'(known: {sorted(SELECTION_DEFAULTS)})')
    out = dict(SELECTION_DEFAULTS)
    out.update(user)
    if out['clip'] is None:
        raise KeyError('pole_selection.clip (the CLIP config) is required')
    return out


def cam_revise_keys(model) -> list:
    """Key renames that put a configs/cam checkpoint (``backbone.*``,
    ``decode_head.*``) onto the CAM branch / head the model predicts with; keys that
    already name the branches are left alone."""
    head = model.predict_cam_head
    branch = model._head_branch[head]
    return [(r'^module\.', ''), (r'^backbone\.', f'branches.{branch}.backbone.'),
            (r'^decode_head\.', f'branches.{branch}.cam_heads.{head}.')]


def build_cam_model(cfg, checkpoint: str, device):
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'predict_cam_head'):
        raise TypeError('pole_select_prompts needs a SingleStageWSSS config (got '
                        f'{type(model).__name__})')
    load_checkpoint_strict(
        model, checkpoint, map_location='cpu', revise_keys=cam_revise_keys(model))
    return model.to(device).eval()


def remove_own_temp_files(path: str) -> int:
    folder, name = osp.split(osp.abspath(path))
    n = 0
    if osp.isdir(folder):
        for f in os.listdir(folder):
            if f.startswith(f'.{name}.') and is_temp_name(f):
                os.remove(osp.join(folder, f))
                n += 1
    return n


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    sel = selection_settings(cfg)
    candidates = pole_candidates(sel['dataset'], sel['candidates'])
    prompts = candidate_prompts(candidates, sel['template'])

    loader_cfg = sel['dataloader'] or cfg.get('pseudo_label_dataloader', None)
    if loader_cfg is None:
        raise KeyError(f'{args.config}: no pole_selection.dataloader nor pseudo_label_dataloader')
    dataset = DATASETS.build(loader_cfg['dataset'])
    keys = output_keys(dataset)

    done: Dict[str, Dict[int, str]] = {}
    if remove_own_temp_files(args.out):
        print('[pole] removed temporary files of an interrupted run', flush=True)
    if osp.exists(args.out) and not args.overwrite:
        done = read_pole_prompts(args.out)
    todo = [i for i, k in enumerate(keys) if k not in done]
    print(
        f'[pole] {len(keys)} images, {len(keys) - len(todo)} already in {args.out}, '
        f'{len(todo)} to do',
        flush=True)
    summary = dict(images=len(keys), selected=0, out=args.out)
    if not todo:
        return summary

    model = build_cam_model(cfg, args.checkpoint, device)
    num_classes = model.cam_head.num_classes
    if num_classes != len(candidates):
        raise ValueError(f'the CAM head has {num_classes} classes but the candidates of '
                         f"{sel['dataset']!r} are {len(candidates)}")
    torch.manual_seed(int(sel['seed']))
    clip = MODELS.build(dict(sel['clip'])).to(device).eval()
    with torch.no_grad():
        cand_emb = [clip.encode_text(p, normalize=True) for p in prompts]

    def save() -> None:
        atomic_write_json(args.out, {
            k: {
                str(c): t
                for c, t in sorted(v.items())
            }
            for k, v in sorted(done.items())
        })

    loader = DataLoader(
        Subset(dataset, todo),
        batch_size=1,
        shuffle=False,
        num_workers=loader_cfg.get('num_workers', 0),
        collate_fn=pseudo_collate)
    changed: List[int] = [0] * num_classes
    seen: List[int] = [0] * num_classes
    start = time.time()
    with torch.no_grad():
        for n, data in enumerate(loader, 1):
            data = model.data_preprocessor(data, False)
            samples = model.predict(data['inputs'], data['data_samples'])
            for i, sample in zip([todo[n - 1]], samples):
                cams = sample.cams.data  # (C, H, W) at ori_shape, labels applied
                labels = stack_img_labels([sample], num_classes, cams.device)[0]
                classes = labels.nonzero().flatten().tolist()
                if not classes:
                    raise ValueError(f'image {sample.img_path} has no image label; POLE '
                                     'selects a token per present class')
                if not bool(torch.isfinite(cams).all()):
                    raise ValueError(f'non-finite CAM for image {sample.img_path} (checkpoint '
                                     f'{args.checkpoint})')
                img = load_rgb(sample.img_path, cams.shape[-2:])[0]
                chosen = select_image_tokens(
                    clip,
                    img,
                    cams[classes].float().cpu(),
                    classes,
                    cand_emb,
                    candidates,
                    size=int(sel['clip_size']),
                    bgr=bool(sel['bgr']),
                    uint8_wrap=bool(sel['uint8_wrap']),
                    pool=sel['clip_pool'])
                done[keys[i]] = {c: tok for c, (tok, _) in chosen.items()}
                for c, (tok, _) in chosen.items():
                    seen[c] += 1
                    changed[c] += int(tok != candidates[c][0])
                summary['selected'] += 1
            if n % max(1, args.save_every) == 0:
                save()
                print(f'[pole] {n}/{len(todo)} images ({time.time() - start:.0f} s)', flush=True)
    save()
    summary['not_the_class_name'] = {
        c: f'{changed[c]}/{seen[c]}'
        for c in range(num_classes) if seen[c]
    }
    print(
        f'[pole] written {args.out}; per class, how often a token other than the class '
        f"name won: {summary['not_the_class_name']}",
        flush=True)
    return summary


if __name__ == '__main__':
    main()
