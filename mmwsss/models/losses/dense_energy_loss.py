"""DenseEnergyLoss: the dense-CRF regularised loss (rloss) without a compiled extension.

Tang et al., "On Regularized Losses for Weakly-supervised CNN Segmentation"
(ECCV 2018), as used by ToCo / AFA / MoRe (``model/losses.py: DenseEnergyLoss``,
weight 1e-7, sigma_rgb 15, sigma_xy 100, scale_factor 0.5; the training scripts
multiply it by 0.05). The official code needs rloss's compiled ``bilateralfilter``
extension; here its permutohedral lattice runs in PyTorch
(:mod:`mmwsss.models.utils.permutohedral`), or the exact O(N^2) Gaussian sum.

The official computation, at the downscaled resolution (h, w):

    S'   = S * ROI                                   (B, K, h, w)
    Gate = ROI - max_k S;  Gate[label == 255] = 1;  Gate[Gate < 0] = 0     (B, h, w)
    AS   = Gate * BilateralFilter(S')                 BF_i = sum_j exp(-|f_i - f_j|^2/2) S'_j
    E    = -sum(S' * AS) / B
    dE/dS (hand-written) = -2 * AS / B * ROI          (Gate held constant)

with features f = (x / s_xy, y / s_xy, r / s_rgb, g / s_rgb, b / s_rgb),
s_xy = sigma_xy * scale_factor. Every step is a plain tensor function below
(:func:`downscale_energy_inputs`, :func:`energy_gate`, :func:`bilateral_features`,
:func:`bilateral_filter`, :func:`dense_energy`, :func:`dense_energy_loss`,
:func:`energy_loss_inputs`), comparable one by one with the official code.

Note on the hand-written gradient: the exact gradient of E with Gate held
constant is -(Gate * W S' + W (Gate * S')) * ROI / B; it equals the official
-2 * Gate * W S' * ROI / B only where Gate is constant over the pixels that
interact. The official rule is kept (it is what the published numbers used).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.utils.permutohedral import gaussian_filter_dense, permutohedral_filter
from mmwsss.registry import MODELS

__all__ = [
    'downscale_energy_inputs', 'energy_gate', 'bilateral_features', 'bilateral_filter',
    'dense_energy', 'dense_energy_loss', 'energy_loss_inputs', 'DenseEnergyLoss'
]

_FILTERS = ('permutohedral', 'dense')
IGNORE_INDEX = 255


def downscale_energy_inputs(
        images: Tensor,
        probs: Tensor,
        rois: Tensor,
        seg_label: Tensor,
        scale_factor: float = 0.5,
        recompute_scale_factor: bool = True) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The official downscaling (``DenseEnergyLoss.forward``) of the four inputs.

    images: nearest; probs: bilinear, align_corners=False; rois: nearest;
    seg_label: nearest. All with ``scale_factor`` and ToCo's
    ``recompute_scale_factor=True``: the output size is floor(in * scale_factor)
    and the sampling grid uses in / out (not 1 / scale_factor), which differs for
    odd sizes. rloss's original code calls F.interpolate without
    ``recompute_scale_factor`` (sampling with 1 / scale_factor): pass False for it.

    Args:
        images: (B, 3, H, W) float RGB in 0..255.
        probs: (B, K, H, W) class probabilities (softmax of the seg logits).
        rois: (B, H, W) 1 inside the valid image region, 0 outside.
        seg_label: (B, 1, H, W) or (B, H, W) pseudo label, 255 = ignore.
        scale_factor: the downscaling factor (0.5).
        recompute_scale_factor: as in F.interpolate (True in ToCo / AFA / MoRe).

    Returns:
        images (B, 3, h, w), probs (B, K, h, w), rois (B, h, w) and
        unlabel_region (B, h, w) bool (label == 255).
    """
    if seg_label.dim() == 3:
        seg_label = seg_label.unsqueeze(1)
    kw = dict(scale_factor=scale_factor, recompute_scale_factor=recompute_scale_factor)
    s_images = F.interpolate(images, mode='nearest', **kw)
    s_probs = F.interpolate(probs, mode='bilinear', align_corners=False, **kw)
    s_rois = F.interpolate(rois.unsqueeze(1).to(probs.dtype), mode='nearest', **kw).squeeze(1)
    s_label = F.interpolate(seg_label.float(), mode='nearest', **kw)
    unlabel = (s_label.long() == IGNORE_INDEX).squeeze(1)
    return s_images, s_probs, s_rois, unlabel


def energy_gate(probs: Tensor, rois: Tensor, unlabel_region: Tensor) -> Tensor:
    """Gate = ROI - max_k S, set to 1 on ignored pixels, then clamped at 0.

    Args:
        probs: (B, K, h, w) probabilities (not multiplied by the ROI).
        rois: (B, h, w).
        unlabel_region: (B, h, w) bool.

    Returns:
        (B, h, w) gate, no gradient (the official treats it as a constant).
    """
    gate = rois.detach() - probs.detach().amax(1)
    gate = torch.where(unlabel_region, torch.ones_like(gate), gate)
    return gate.clamp(min=0)


def bilateral_features(images: Tensor, sigma_rgb: float, sigma_xy: float) -> Tensor:
    """Per-pixel features (x / sigma_xy, y / sigma_xy, c_0 / sigma_rgb, ...) of rloss.

    x is the column index, y the row index (``bilateralfilter.cpp``), pixels in
    row-major order.

    Args:
        images: (B, C, h, w) (C = 3 RGB channels in 0..255 for the loss).
        sigma_rgb: colour std.
        sigma_xy: spatial std in pixels of this (already downscaled) image.

    Returns:
        (B, h * w, 2 + C) float32 (float64 if the images are float64).
    """
    B, C, H, W = images.shape
    dtype = images.dtype if images.dtype == torch.float64 else torch.float32
    ys, xs = torch.meshgrid(
        torch.arange(H, device=images.device, dtype=dtype),
        torch.arange(W, device=images.device, dtype=dtype),
        indexing='ij')
    xy = torch.stack([xs, ys], 0).unsqueeze(0).expand(B, 2, H, W) / sigma_xy
    rgb = images.to(dtype) / sigma_rgb
    return torch.cat([xy, rgb], 1).flatten(2).transpose(1, 2).contiguous()


def bilateral_filter(images: Tensor,
                     values: Tensor,
                     sigma_rgb: float,
                     sigma_xy: float,
                     filter: str = 'permutohedral') -> Tensor:  # noqa: A002
    """The unnormalised bilateral filter of rloss's ``bilateralfilter_batch``.

        out[b, k, i] = sum_j exp(-|f_i - f_j|^2 / 2) * values[b, k, j],
        f = :func:`bilateral_features` (images, sigma_rgb, sigma_xy)

    Args:
        images: (B, 3, h, w) RGB 0..255.
        values: (B, K, h, w).
        sigma_rgb, sigma_xy: stds (sigma_xy in pixels of this resolution).
        filter: 'permutohedral' (the extension's approximation) or 'dense' (exact).

    Returns:
        (B, K, h, w) in the dtype of ``values``.
    """
    if filter not in _FILTERS:
        raise ValueError(f'filter must be one of {_FILTERS}, got {filter!r}')
    B, K, H, W = values.shape
    feats = bilateral_features(images, sigma_rgb, sigma_xy)
    vals = values.flatten(2).transpose(1, 2)  # (B, h*w, K)
    if filter == 'permutohedral':
        # sse_blocks: bit-for-bit the lattice of the x86 (SSE) extension build
        out = permutohedral_filter(feats, vals.to(feats.dtype), sse_blocks=True)
    else:
        out = gaussian_filter_dense(feats, vals.to(feats.dtype))
    return out.transpose(1, 2).reshape(B, K, H, W).to(values.dtype)


class _DenseEnergyFunction(torch.autograd.Function):
    """E = -sum(S' * Gate * BF(S')) / B with the official backward -2 * AS / B * ROI."""

    @staticmethod
    def forward(ctx, images: Tensor, probs: Tensor, rois: Tensor, unlabel_region: Tensor,
                sigma_rgb: float, sigma_xy: float, filter: str) -> Tensor:  # noqa: A002
        B = probs.shape[0]
        gate = energy_gate(probs, rois, unlabel_region).unsqueeze(1)  # (B, 1, h, w)
        rois_k = rois.unsqueeze(1).to(probs.dtype)
        masked = probs * rois_k
        AS = bilateral_filter(images, masked, sigma_rgb, sigma_xy, filter) * gate
        ctx.save_for_backward(AS, rois_k)
        return -(masked * AS).sum() / B

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        AS, rois_k = ctx.saved_tensors
        grad = -2 * grad_output * AS / AS.shape[0] * rois_k
        return None, grad, None, None, None, None, None


def dense_energy(
        images: Tensor,
        probs: Tensor,
        rois: Tensor,
        unlabel_region: Tensor,
        sigma_rgb: float,
        sigma_xy: float,
        filter: str = 'permutohedral'  # noqa: A002
) -> Tensor:
    """The energy at the given resolution (``DenseEnergyLossFunction.apply``).

    Args:
        images: (B, 3, h, w) RGB 0..255 (no gradient).
        probs: (B, K, h, w) probabilities; gradient -2 * AS / B * ROI.
        rois: (B, h, w).
        unlabel_region: (B, h, w) bool, True where the label is 255.
        sigma_rgb: colour std; sigma_xy: spatial std in pixels at this
            resolution (the official passes sigma_xy * scale_factor).
        filter: 'permutohedral' or 'dense'.

    Returns:
        0-dim tensor E = -sum(S' * AS) / B (the official returns shape (1,)).
    """
    if filter not in _FILTERS:
        raise ValueError(f'filter must be one of {_FILTERS}, got {filter!r}')
    if images.shape[0] != probs.shape[0] or images.shape[2:] != probs.shape[2:]:
        raise ValueError(f'images {tuple(images.shape)} and probs {tuple(probs.shape)} '
                         'must share batch and spatial size')
    if rois.shape != unlabel_region.shape or rois.shape != (probs.shape[0], *probs.shape[2:]):
        raise ValueError(f'rois {tuple(rois.shape)} and unlabel_region '
                         f'{tuple(unlabel_region.shape)} must be (B, h, w) of probs')
    return _DenseEnergyFunction.apply(images.detach(), probs, rois, unlabel_region.bool(),
                                      float(sigma_rgb), float(sigma_xy), filter)


def dense_energy_loss(
        images: Tensor,
        probs: Tensor,
        rois: Tensor,
        seg_label: Tensor,
        sigma_rgb: float = 15.,
        sigma_xy: float = 100.,
        scale_factor: float = 0.5,
        filter: str = 'permutohedral',  # noqa: A002
        recompute_scale_factor: bool = True) -> Tensor:
    """``DenseEnergyLoss.forward`` of ToCo / AFA / MoRe, divided by its weight.

    Downscale (:func:`downscale_energy_inputs`), then :func:`dense_energy` with
    sigma_xy * scale_factor.

    Args:
        images: (B, 3, H, W) de-normalised RGB in 0..255.
        probs: (B, K, H, W) softmax of the seg logits.
        rois: (B, H, W) 1 inside the image box.
        seg_label: (B, 1, H, W) or (B, H, W) pseudo label (255 = ignore).
        sigma_rgb, sigma_xy, scale_factor: ToCo's 15, 100, 0.5.
        filter: 'permutohedral' (matches the extension) or 'dense' (exact sum).
        recompute_scale_factor: see :func:`downscale_energy_inputs`.

    Returns:
        0-dim energy (multiply by the loss weight, 1e-7 in ToCo).
    """
    s_images, s_probs, s_rois, unlabel = downscale_energy_inputs(images, probs, rois, seg_label,
                                                                 scale_factor,
                                                                 recompute_scale_factor)
    return dense_energy(s_images, s_probs, s_rois, unlabel, sigma_rgb, sigma_xy * scale_factor,
                        filter)


def energy_loss_inputs(
    img: Tensor,
    seg_logits: Tensor,
    label: Tensor,
    img_box: Optional[Sequence[Sequence[int]]] = None,
    mean: Sequence[float] = (123.675, 116.28, 103.53),
    std: Sequence[float] = (58.395, 57.12, 57.375)
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """ToCo's ``get_energy_loss`` preparation: de-normalise, softmax, box mask.

    Args:
        img: (B, 3, H, W) normalised image.
        seg_logits: (B, K, H, W) logits at the image size.
        label: (B, H, W) pseudo label (255 = ignore).
        img_box: per image (top, bottom, left, right) of the valid region
            (rows top:bottom, columns left:right); None = the whole image.
        mean, std: the normalisation to undo (ImageNet, RGB, 0..255).

    Returns:
        images (B, 3, H, W) 0..255, probs (B, K, H, W), rois (B, H, W),
        seg_label (B, 1, H, W): the arguments of :class:`DenseEnergyLoss`.
    """
    probs = F.softmax(seg_logits, dim=1)
    if img_box is None:
        rois = torch.ones_like(probs[:, 0])
    else:
        rois = torch.zeros_like(probs[:, 0])
        for i, (t, b, left, r) in enumerate(img_box):
            rois[i, int(t):int(b), int(left):int(r)] = 1
    m = img.new_tensor(mean).view(1, -1, 1, 1)
    s = img.new_tensor(std).view(1, -1, 1, 1)
    return img * s + m, probs, rois, label.unsqueeze(1)


@MODELS.register_module()
class DenseEnergyLoss(nn.Module):
    """rloss's DenseEnergyLoss (dense-CRF energy of the soft segmentation).

    forward(images, probs, rois, seg_label) returns
    weight * :func:`dense_energy_loss` (...). ToCo trains with weight 1e-7 and a
    further factor 0.05 in its script (the whole term is 5e-9 * energy).

    Args:
        weight: 1e-7 (ToCo / AFA / MoRe).
        sigma_rgb: 15. sigma_xy: 100 (pixels at full resolution).
        scale_factor: 0.5 (the loss is computed at half resolution).
        filter: 'permutohedral' (the extension's lattice, in PyTorch) or 'dense'
            (the exact Gaussian sum, O(N^2); about 1.7x larger energies on photos,
            see docs/en/dense_energy_loss.md).
        recompute_scale_factor: True as in ToCo; False for rloss's original.
        loss_name: key in the loss dict ('loss_reg').
    """

    def __init__(
            self,
            weight: float = 1e-7,
            sigma_rgb: float = 15.,
            sigma_xy: float = 100.,
            scale_factor: float = 0.5,
            filter: str = 'permutohedral',  # noqa: A002
            recompute_scale_factor: bool = True,
            loss_name: str = 'loss_reg') -> None:
        super().__init__()
        if filter not in _FILTERS:
            raise ValueError(f'filter must be one of {_FILTERS}, got {filter!r}')
        self.weight = weight
        self.sigma_rgb = sigma_rgb
        self.sigma_xy = sigma_xy
        self.scale_factor = scale_factor
        self.filter = filter
        self.recompute_scale_factor = recompute_scale_factor
        self._loss_name = loss_name

    def forward(self, images: Tensor, probs: Tensor, rois: Tensor, seg_label: Tensor) -> Tensor:
        """See :func:`dense_energy_loss` for shapes; returns a 0-dim tensor."""
        return self.weight * dense_energy_loss(images, probs, rois, seg_label, self.sigma_rgb,
                                               self.sigma_xy, self.scale_factor, self.filter,
                                               self.recompute_scale_factor)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'weight={self.weight}, sigma_rgb={self.sigma_rgb}, sigma_xy={self.sigma_xy}, '
                f'scale_factor={self.scale_factor}, filter={self.filter!r}')
