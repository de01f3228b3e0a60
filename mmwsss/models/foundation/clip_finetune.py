"""Partial fine-tuning of an :class:`~mmwsss.models.foundation.OpenCLIP` image tower, and
loading the fine-tuned subset back into another model.

A method that fine-tunes part of CLIP (the last N image blocks, ``ln_post``, ``proj``)
and hands it to a later stage needs two things the frozen wrappers do not give:

* :func:`partial_finetune` -- freeze everything, then unfreeze the chosen parts;
* :func:`load_partial_state_dict` -- read a checkpoint that holds *only* the trained
  tensors (plus anything the training stage chose to keep) with the safe loader
  (``torch.load(weights_only=True)``) and write them over a model whose other weights
  come from the CLIP checkpoint file; every key of the file must exist in the model
  with the same shape and be finite (errors name the file and the keys).
"""
import re
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..utils.freeze import freeze


def partial_finetune(clip: nn.Module,
                     train_blocks: int,
                     train_ln_post: bool = True,
                     train_proj: bool = True) -> List[str]:
    """Freeze a CLIP model except the last ``train_blocks`` image blocks (and optionally
    the image tower's ``ln_post`` and ``proj``).

    Args:
        clip: an ``OpenCLIP`` (its open_clip ``CLIP`` is ``clip.clip``) or the open_clip
            ``CLIP`` itself.
        train_blocks: N, the number of last residual blocks of the image encoder to
            train, 0 <= N <= number of blocks. The text tower, the patch embedding,
            the positional embedding, ``ln_pre`` and ``logit_scale`` stay frozen.
        train_ln_post: train ``visual.ln_post``.
        train_proj: train ``visual.proj`` (the image projection into the joint space).
    Returns:
        names (relative to the open_clip ``CLIP``) of the parameters left trainable.
    """
    model = getattr(clip, 'clip', clip)
    visual = model.visual
    blocks = visual.transformer.resblocks
    if not 0 <= int(train_blocks) <= len(blocks):
        raise ValueError(f'train_blocks must be in [0, {len(blocks)}] (the image encoder has '
                         f'{len(blocks)} blocks), got {train_blocks}')
    freeze(model, eval_mode=False)  # no BN / dropout in CLIP: train mode is harmless
    for block in list(blocks)[len(blocks) - int(train_blocks):]:
        block.requires_grad_(True)
    if train_ln_post:
        visual.ln_post.requires_grad_(True)
    if train_proj and visual.proj is not None:
        visual.proj.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def _state_of(obj, path: str) -> Dict[str, Tensor]:
    from mmwsss.utils.checkpoint_compat import InvalidCheckpointError
    state = obj.get('state_dict', obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict) or not state or \
            not all(isinstance(v, Tensor) for v in state.values()):
        raise InvalidCheckpointError(f'{path}: expected a non-empty state dict of tensors '
                                     '(an mmengine checkpoint or a plain state dict)')
    return state


def load_partial_state_dict(
    model: nn.Module,
    path: str,
    prefixes: Optional[Sequence[str]] = None,
    revise_keys: Sequence = ((r'^module\.', ''), )
) -> List[str]:
    """Write the tensors of a checkpoint over the matching weights of ``model``.

    The checkpoint may hold any *subset* of the model's keys (a training stage that
    saved only what it trained); the model keeps its other weights.

    Args:
        model: the model to update (its ``state_dict`` names are the reference).
        path: local file, read with :func:`~mmwsss.utils.checkpoint_compat.safe_torch_load`
            (``weights_only=True``); an mmengine checkpoint (``state_dict`` inside) or a
            plain state dict.
        prefixes: take only the keys starting with one of these (others are skipped
            and listed in the log); None takes every key.
        revise_keys: ``(pattern, replacement)`` pairs applied to the keys first.
    Returns:
        the sorted keys that were loaded.
    Raises:
        CheckpointMismatchError: a selected key is not in the model, has another
            shape, or holds NaN / inf; or nothing was selected.
    """
    from mmwsss.utils.checkpoint_compat import CheckpointMismatchError, safe_torch_load
    state = _state_of(safe_torch_load(path, map_location='cpu'), path)
    for pattern, repl in revise_keys:
        state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    if prefixes is not None:
        skipped = sorted(k for k in state if not k.startswith(tuple(prefixes)))
        state = {k: v for k, v in state.items() if k.startswith(tuple(prefixes))}
        if skipped:
            print_log(
                f'{path}: skipped {len(skipped)} key(s) outside {list(prefixes)}: '
                f'{skipped[:5]}',
                logger='current')
    if not state:
        raise CheckpointMismatchError(f'{path} holds no key starting with {list(prefixes)}')
    own = model.state_dict()
    unexpected = sorted(k for k in state if k not in own)
    mismatched = sorted(f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})'
                        for k in state if k in own and state[k].shape != own[k].shape)
    bad = sorted(k for k, v in state.items()
                 if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    problems = []
    if unexpected:
        problems.append(f'keys the model does not have: {unexpected[:10]}')
    if mismatched:
        problems.append(f'shape mismatch: {mismatched[:10]}')
    if bad:
        problems.append(f'NaN / inf values in {bad[:10]}')
    if problems:
        raise CheckpointMismatchError(f'checkpoint {path} does not fit {type(model).__name__}: ' +
                                      '; '.join(problems))
    model.load_state_dict(state, strict=False)
    return sorted(state)
