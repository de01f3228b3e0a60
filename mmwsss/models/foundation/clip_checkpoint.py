"""Read CLIP weights from a local file: OpenAI TorchScript archives or state dicts.

OpenAI's released ``ViT-B-16.pt`` is a TorchScript archive; open_clip's
``create_model(pretrained=path)`` loads with ``weights_only=True`` and cannot read it.
Both formats share the same parameter names (open_clip kept OpenAI's), so one
reader returning a plain float state dict serves both.
"""
import os
import zipfile
from collections import OrderedDict
from typing import Dict, Iterable, Optional

import torch
from torch import Tensor, nn

# Integers stored as tensors in OpenAI's archives; not parameters of the model.
OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
# Wrappers under which training frameworks nest a state dict.
_NESTED_KEYS = ('state_dict', 'model', 'module')


def is_torchscript_archive(path: str) -> bool:
    """True if ``path`` is a TorchScript zip archive (has ``constants.pkl`` / ``code/``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    return any(n.endswith('/constants.pkl') or '/code/' in n for n in names)


def _unwrap(obj, path: str) -> Dict[str, Tensor]:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    for key in _NESTED_KEYS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise TypeError(f'CLIP checkpoint {path} holds a {type(obj).__name__}, '
                        'expected a state dict of tensors')
    return obj


def load_clip_state_dict(path: str) -> Dict[str, Tensor]:
    """Float32 CPU state dict from a local CLIP checkpoint.

    Accepts OpenAI TorchScript archives (``ViT-B-16.pt``), OpenAI-format state dicts
    and open_clip state dicts (optionally nested under ``state_dict`` and prefixed
    ``module.``). OpenAI's integer entries (``input_resolution``, ``context_length``,
    ``vocab_size``) are dropped. Never downloads anything.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'CLIP checkpoint not found: {path} (weights are only '
                                'read from local files; download them beforehand)')
    if is_torchscript_archive(path):
        state = torch.jit.load(path, map_location='cpu').state_dict()
    else:
        state = _unwrap(torch.load(path, map_location='cpu', weights_only=True), path)
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key in OPENAI_EXTRA_KEYS:
            continue
        out[key] = value.float() if value.is_floating_point() else value
    return out


def load_state_dict_checked(model: nn.Module,
                            state: Dict[str, Tensor],
                            path: str,
                            ignore: Iterable[str] = ()) -> None:
    """Strict load that names the file and the offending keys on any mismatch."""
    own = model.state_dict()
    ignore = set(ignore)
    missing = sorted(k for k in own if k not in state and k not in ignore)
    unexpected = sorted(k for k in state if k not in own and k not in ignore)
    mismatched = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model '
                        f'{tuple(own[k].shape)}' for k in own
                        if k in state and state[k].shape != own[k].shape)
    if missing or unexpected or mismatched:
        lines = [f'checkpoint {path} does not match the model '
                 f'({type(model).__name__}):']
        for title, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                            ('shape mismatch', mismatched)):
            if keys:
                shown = ', '.join(
                    keys[:10]) + (f', ... ({len(keys)} in all)' if len(keys) > 10 else '')
                lines.append(f'  {title}: {shown}')
        raise RuntimeError('\n'.join(lines))
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


class _OpenAIArchive(nn.Module):
    """Holds CLIP parameters under OpenAI's names plus its integer entries."""

    def __init__(self, clip: nn.Module, input_resolution: int, context_length: int,
                 vocab_size: int) -> None:
        super().__init__()
        for name, child in clip.named_children():
            self.add_module(name, child)
        for name, param in clip.named_parameters(recurse=False):
            self.register_parameter(name, param)
        self.register_buffer('input_resolution', torch.tensor(input_resolution))
        self.register_buffer('context_length', torch.tensor(context_length))
        self.register_buffer('vocab_size', torch.tensor(vocab_size))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.logit_scale.exp()


def save_openai_torchscript(clip: nn.Module,
                            path: str,
                            half: bool = True,
                            input_resolution: Optional[int] = None) -> None:
    """Write ``clip``'s weights as an OpenAI-style TorchScript archive.

    Used to make test fixtures in the format of OpenAI's ``ViT-B-16.pt`` (fp16
    weights, extra integer entries) from an open_clip model.
    """
    import copy
    clip = copy.deepcopy(clip).cpu()
    if half:
        clip = clip.half()
    if input_resolution is None:
        input_resolution = int(clip.visual.image_size[0])
    holder = _OpenAIArchive(clip, input_resolution, int(clip.context_length), int(clip.vocab_size))
    example = torch.ones(1, dtype=clip.logit_scale.dtype)
    traced = torch.jit.trace(holder, example, check_trace=False)
    traced.save(path)
