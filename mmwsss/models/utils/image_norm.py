"""Undo / redo a data preprocessor's normalisation.

Official pipelines resize the *uint8* image (PIL) before normalising, while an
mmseg model only receives the normalised tensor. These two functions convert
between the two so that the official order can be replayed exactly.

``mean`` / ``std`` are the preprocessor's values (0-255 units, in the channel
order of the network input, as mmseg stores them). ``bgr_to_rgb`` is the
preprocessor's flag: True means the network input is already RGB; False means
it keeps the loading order, which for mmcv's loaders is BGR.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

Stats = Optional[Union[Sequence[float], Tensor]]


def _as_4d(values: Stats, like: Tensor) -> Tensor:
    """(3,) / (3, 1, 1) statistics -> (1, 3, 1, 1) float32 on ``like``'s device.

    None (a preprocessor without normalisation) acts as mean 0 / std 1.
    """
    return torch.as_tensor(values, dtype=torch.float32, device=like.device).reshape(1, 3, 1, 1)


def denormalize(inputs: Tensor, mean: Stats, std: Stats, bgr_to_rgb: bool) -> Tensor:
    """Normalised network input -> uint8 RGB image.

    Args:
        inputs: (B, 3, H, W) float, ``(img - mean) / std``.
        mean, std: the preprocessor's statistics (3 values, 0-255 units).
        bgr_to_rgb: the preprocessor's flag (False: ``inputs`` are BGR).
    Returns:
        (B, 3, H, W) uint8 RGB. Rounded: exact for inputs that came from uint8
        images (the float error of the normalisation is far below 0.5).
    """
    img = inputs.detach().float()
    if std is not None:
        img = img * _as_4d(std, img)
    if mean is not None:
        img = img + _as_4d(mean, img)
    if not bgr_to_rgb:
        img = img.flip(1)
    return img.round().clamp(0, 255).to(torch.uint8)


def normalize(img: Tensor, mean: Stats, std: Stats, bgr_to_rgb: bool) -> Tensor:
    """uint8 RGB image -> normalised network input (inverse of :func:`denormalize`).

    Args:
        img: (B, 3, H, W) uint8 (or float 0-255) RGB.
        mean, std, bgr_to_rgb: as in :func:`denormalize`.
    Returns:
        (B, 3, H, W) float32 ``(img - mean) / std`` in the network's channel order.
    """
    x = img.float()
    if not bgr_to_rgb:
        x = x.flip(1)  # the network expects the loading (BGR) order
    if mean is not None:
        x = x - _as_4d(mean, x)
    if std is not None:
        x = x / _as_4d(std, x)
    return x


def preprocessor_stats(preprocessor) -> dict:
    """``dict(mean, std, bgr_to_rgb)`` of an mmseg-style data preprocessor.

    A preprocessor without normalisation gives ``mean=std=None``.
    """
    enabled = getattr(preprocessor, '_enable_normalize', True)
    mean = getattr(preprocessor, 'mean', None) if enabled else None
    std = getattr(preprocessor, 'std', None) if enabled else None
    return dict(
        mean=None if mean is None else mean.flatten().tolist(),
        std=None if std is None else std.flatten().tolist(),
        bgr_to_rgb=bool(getattr(preprocessor, 'channel_conversion', False)))
