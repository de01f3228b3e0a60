"""BECO's photometric augmentation (``datasets/transforms/transform.py:
get_al_augmentation``) written in torch, per sample, on the device.

The official pipeline runs albumentations on uint8 images::

    Compose([Compose([RandomBrightnessContrast(p=1), HueSaturationValue(p=1)], p=0.8),
             ToGray(p=0.2), GaussianBlur(5, p=0.5)])

with albumentations' defaults: brightness and contrast limits 0.2 (``brightness_by_max``:
``v * alpha + beta * 255``, alpha = 1 + U(-0.2, 0.2), beta = U(-0.2, 0.2), through a uint8
LUT), hue / saturation / value shifts U(-20, 20) / U(-30, 30) / U(-20, 20) in OpenCV's
uint8 HSV units (hue in 0..179, wrapping), luma gray ``0.299 R + 0.587 G + 0.114 B``, and
a Gaussian blur with an odd kernel drawn from {3, 5} and OpenCV's sigma for that kernel
(``0.3 * ((k - 1) / 2 - 1) + 0.8``), reflect-101 borders.

Differences (documented in configs/beco/README.md): the HSV round trip is done in float
and rounded once (OpenCV quantises H, S and V to uint8 in between); random numbers come
from torch, not numpy; the official code feeds albumentations a channel-swapped image
(``cvtColor(BGR2RGB)`` on an RGB tensor, swapped back after), so its hue shift and gray
weights act on BGR: ``swap_rb=True`` reproduces that.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS

__all__ = ['AlbuPhotometric', 'rgb_to_hsv_cv2', 'hsv_cv2_to_rgb', 'cv2_gaussian_sigma']


def cv2_gaussian_sigma(ksize: int) -> float:
    """OpenCV's sigma for ``GaussianBlur(ksize, sigma=0)``."""
    return 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8


def rgb_to_hsv_cv2(img: Tensor) -> Tensor:
    """(3, H, W) float RGB 0..255 -> HSV with OpenCV's uint8 ranges (H 0..180, S, V 0..255),
    unrounded."""
    r, g, b = img[0], img[1], img[2]
    v = img.amax(0)
    mn = img.amin(0)
    delta = v - mn
    s = torch.where(v > 0, delta * 255.0 / v.clamp(min=1e-6), torch.zeros_like(v))
    safe = delta.clamp(min=1e-6)
    h = torch.where(
        v == r, 60.0 * (g - b) / safe,
        torch.where(v == g, 120.0 + 60.0 * (b - r) / safe, 240.0 + 60.0 * (r - g) / safe))
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    h = torch.remainder(h, 360.0) / 2.0
    return torch.stack([h, s, v])


def hsv_cv2_to_rgb(hsv: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hsv_cv2` (float, 0..255 RGB)."""
    h = torch.remainder(hsv[0] * 2.0, 360.0) / 60.0
    s = hsv[1] / 255.0
    v = hsv[2]
    c = v * s
    x = c * (1 - torch.abs(torch.remainder(h, 2.0) - 1))
    m = v - c
    z = torch.zeros_like(h)
    sector = torch.floor(h).long().clamp(0, 5)
    rs = torch.stack([c, x, z, z, x, c])
    gs = torch.stack([x, c, c, x, z, z])
    bs = torch.stack([z, z, x, c, c, x])
    idx = sector[None]
    r = rs.gather(0, idx)[0]
    g = gs.gather(0, idx)[0]
    b = bs.gather(0, idx)[0]
    return torch.stack([r + m, g + m, b + m])


def _gaussian_blur(img: Tensor, ksize: int) -> Tensor:
    sigma = cv2_gaussian_sigma(ksize)
    ax = torch.arange(ksize, dtype=torch.float32, device=img.device) - (ksize - 1) / 2
    k1 = torch.exp(-ax**2 / (2 * sigma**2))
    k1 = k1 / k1.sum()
    pad = ksize // 2
    x = F.pad(img[None], (pad, pad, pad, pad), mode='reflect')  # reflect = cv2 reflect-101
    x = F.conv2d(x, k1.view(1, 1, 1, -1).expand(3, 1, 1, ksize), groups=3)
    x = F.conv2d(x, k1.view(1, 1, -1, 1).expand(3, 1, ksize, 1), groups=3)
    return x[0]


@MODELS.register_module()
class AlbuPhotometric(nn.Module):
    """BECO's albumentations augmentation on (B, 3, H, W) RGB 0..255 images.

    Args:
        color_prob: probability of the brightness/contrast + HSV block (0.8).
        brightness / contrast: limits of RandomBrightnessContrast (0.2 / 0.2).
        hue / sat / val: HueSaturationValue shift limits (20 / 30 / 20, OpenCV units).
        gray_prob: ToGray probability (0.2).
        blur_prob: GaussianBlur probability (0.5); kernel drawn from ``blur_ksizes``.
        swap_rb: apply the ops to the channel-swapped image, as the official code does.
    Returns (forward):
        ``(images float32 0..255 (B, 3, H, W), flipped (B,) bool all False)``: the
        preprocessor's view-augmentation convention (this augmentation never flips).
    """

    def __init__(self,
                 color_prob: float = 0.8,
                 brightness: float = 0.2,
                 contrast: float = 0.2,
                 hue: float = 20.0,
                 sat: float = 30.0,
                 val: float = 20.0,
                 gray_prob: float = 0.2,
                 blur_prob: float = 0.5,
                 blur_ksizes: Tuple[int, ...] = (3, 5),
                 swap_rb: bool = False) -> None:
        super().__init__()
        self.color_prob = color_prob
        self.brightness = brightness
        self.contrast = contrast
        self.hue, self.sat, self.val = hue, sat, val
        self.gray_prob = gray_prob
        self.blur_prob = blur_prob
        self.blur_ksizes = tuple(int(k) for k in blur_ksizes)
        self.swap_rb = swap_rb

    def apply_one(self, img: Tensor, u: Tensor) -> Tensor:
        """One sample. ``img``: (3, H, W) float 0..255 RGB; ``u``: (9,) uniforms."""
        x = img.round().clamp(0, 255)
        if self.swap_rb:
            x = x.flip(0)
        if u[0] < self.color_prob:
            alpha = 1.0 + (2 * u[1] - 1) * self.contrast
            beta = (2 * u[2] - 1) * self.brightness
            # albumentations' uint8 LUT: clip then truncate
            x = torch.floor((x * alpha + beta * 255.0).clamp(0, 255))
            hsv = rgb_to_hsv_cv2(x)
            hsv = torch.stack([
                torch.remainder(hsv[0] + (2 * u[3] - 1) * self.hue, 180.0),
                (hsv[1] + (2 * u[4] - 1) * self.sat).clamp(0, 255),
                (hsv[2] + (2 * u[5] - 1) * self.val).clamp(0, 255)
            ])
            x = hsv_cv2_to_rgb(hsv).round().clamp(0, 255)
        if u[6] < self.gray_prob:
            gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).round()
            x = gray.expand(3, -1, -1).clone()
        if u[7] < self.blur_prob:
            k = self.blur_ksizes[min(int(u[8] * len(self.blur_ksizes)), len(self.blur_ksizes) - 1)]
            x = _gaussian_blur(x, k).round().clamp(0, 255)
        if self.swap_rb:
            x = x.flip(0)
        return x

    def forward(self, imgs: Tensor, generator: Optional[torch.Generator] = None):
        if imgs.dim() != 4 or imgs.shape[1] != 3:
            raise ValueError(f'expected (B, 3, H, W) RGB images, got {tuple(imgs.shape)}')
        u = torch.rand(imgs.shape[0], 9, generator=generator)
        out = torch.stack([self.apply_one(imgs[i].float(), u[i]) for i in range(imgs.shape[0])])
        return out, torch.zeros(imgs.shape[0], dtype=torch.bool, device=imgs.device)
