"""Multi-scale CAMs inside a training step, computed once per (head, setting).

ToCo computes the final and the aux multi-scale CAMs in the same passes
(``multi_scale_cam2`` returns both); several parts of one step read them (the
seg label, the PTC label, the CTC roi map). :func:`precompute_multi_scale`
groups the requests of all parts by setting and runs every group's heads of a
branch in one pass (their CAMs are concatenated along channels: every step of
the merge is per channel, so the result is the same as separate passes).
"""
import json
from typing import Dict, Iterable, Sequence, Tuple

import torch
from torch import Tensor

from mmwsss.structures import TrainContext
from ..utils.cam_inference import CAM_PRESETS, multi_scale_cams

Request = Tuple[str, dict]  # (CAM-head name, multi-scale setting)


def resolve_setting(cfg: dict) -> dict:
    """A multi-scale setting with its ``preset`` expanded (explicit keys win)."""
    cfg = dict(cfg)
    out = dict(CAM_PRESETS[cfg.pop('preset')]) if 'preset' in cfg else {}
    out.update(cfg)
    return out


def setting_key(cfg: dict) -> str:
    return json.dumps(resolve_setting(cfg), sort_keys=True, default=str)


def _cache(ctx: TrainContext) -> Dict[Tuple[str, str], Tensor]:
    return ctx.extras.setdefault('multi_scale_cams', {})


def head_branch(ctx: TrainContext, head: str) -> str:
    for name, out in ctx.branches.items():
        if head in out.cams:
            return name
    raise KeyError(f"no CAM head '{head}' in the training context; heads: {sorted(ctx.cams)}")


@torch.no_grad()
def precompute_multi_scale(ctx: TrainContext, requests: Iterable[Request], branch_cam_fn) -> None:
    """Fill the context's cache for all ``requests``.

    Args:
        requests: (head, setting) pairs from label sources and loss terms.
        branch_cam_fn: ``fn(branch name, head names) -> images -> (N, sum C, h, w)``.
    """
    groups: Dict[Tuple[str, str], list] = {}
    settings: Dict[str, dict] = {}
    cache = _cache(ctx)
    for head, cfg in requests:
        key = setting_key(cfg)
        if (head, key) in cache:
            continue
        settings[key] = resolve_setting(cfg)
        heads = groups.setdefault((head_branch(ctx, head), key), [])
        if head not in heads:
            heads.append(head)
    for (branch, key), heads in groups.items():
        sizes = [ctx.cams[h].shape[1] for h in heads]
        cams = multi_scale_cams(branch_cam_fn(branch, heads), ctx.inputs, **settings[key])
        for head, part in zip(heads, cams.split(sizes, 1)):
            cache[(head, key)] = part


def get_multi_scale_cams(ctx: TrainContext, head: str, cfg: dict) -> Tensor:
    """(B, C, H, W) multi-scale CAMs of ``head`` (NOT masked by image labels)."""
    key = setting_key(cfg)
    cache = _cache(ctx)
    if (head, key) not in cache:
        fn = ctx.extras.get('branch_cam_fn')
        if fn is None:
            raise KeyError(f"multi-scale CAMs of '{head}' were not precomputed and the "
                           'context has no branch_cam_fn')
        precompute_multi_scale(ctx, [(head, cfg)], fn)
    return cache[(head, key)]


def requests_of(parts: Sequence) -> list:
    """All (head, setting) requests declared by parts' ``multi_scale_requests()``."""
    out = []
    for part in parts:
        fn = getattr(part, 'multi_scale_requests', None)
        if fn is not None:
            out.extend(fn())
    return out
