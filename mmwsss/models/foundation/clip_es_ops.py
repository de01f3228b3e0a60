"""CLIP-ES building blocks: Grad-CAM on CLIP tokens and class-aware attention
affinity (CAA). Formulas follow the official ``generate_cams_voc12.py::perform``.

Shapes: ``K`` classes, ``h x w`` patch grid, ``N = h * w`` patches.
"""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.cam import normalize_cams
from ..utils.cam_inference import pil_resize
from ..utils.image_norm import denormalize, normalize

CLIP_ES_INPUT_RESIZE = ('pil_bicubic', 'torch_bicubic')


def clip_es_input_size(height: int, width: int, scale: float, patch: int = 16) -> Tuple[int, int]:
    """CLIP-ES's input size (``img_ms_and_flip``): each side scaled and rounded
    *up* to a multiple of the patch size, ``int(ceil(s * H / p) * p)``."""
    return (int(math.ceil(scale * height / patch) * patch),
            int(math.ceil(scale * width / patch) * patch))


def clip_es_resize(inputs: Tensor,
                   scale: float,
                   patch: int = 16,
                   mode: str = 'pil_bicubic',
                   img_norm: Optional[dict] = None) -> Tensor:
    """The CLIP-ES input of one scale, from a CLIP-normalised image.

    ``'pil_bicubic'`` replays the official ``_transform_resize``: the uint8 image
    (recovered with ``img_norm``) is resized by PIL bicubic (torchvision ``Resize``
    on a PIL image), then normalised. ``'torch_bicubic'`` resizes the normalised
    tensor with ``F.interpolate(mode='bicubic')``: another kernel (torch: a = -0.75,
    no antialias; PIL: a = -0.5, support widened when downscaling), kept for
    comparison.

    Args:
        inputs: (1, 3, H, W) CLIP-normalised image.
        scale: input scale (official: 1.0).
        patch: ViT patch size.
        mode: ``'pil_bicubic'`` (official) or ``'torch_bicubic'``.
        img_norm: ``dict(mean, std, bgr_to_rgb)`` of the data preprocessor
            (``'pil_bicubic'`` only).
    Returns:
        (1, 3, H', W') with H', W' from :func:`clip_es_input_size`; ``inputs``
        itself when no resize is needed (PIL returns a copy at the same size).
    """
    if mode not in CLIP_ES_INPUT_RESIZE:
        raise ValueError(f"unknown CLIP-ES input_resize '{mode}', expected one of "
                         f'{CLIP_ES_INPUT_RESIZE}')
    h, w = inputs.shape[-2:]
    size = clip_es_input_size(h, w, scale, patch)
    if size == (h, w):
        return inputs
    if mode == 'torch_bicubic':
        return F.interpolate(inputs, size=size, mode='bicubic', align_corners=False)
    if img_norm is None:
        raise ValueError("input_resize='pil_bicubic' needs img_norm=dict(mean, std, "
                         'bgr_to_rgb) to recover the uint8 image')
    img = pil_resize(denormalize(inputs, **img_norm), size)
    return normalize(img, **img_norm).to(inputs.dtype)


def minmax_scale(cams: Tensor, eps: float = 1e-7) -> Tensor:
    """Per-map (x - min) / (eps + max(x - min)) over the last two dims
    (pytorch-grad-cam's ``scale_cam_image``). (..., h, w) -> (..., h, w).

    The shared :func:`normalize_cams` ('minmax') with grad-cam's eps."""
    return normalize_cams(cams, 'minmax', eps=eps)


def grad_cam(activations: Tensor, grads: Tensor, grid: Sequence[int]) -> Tensor:
    """Grad-CAM on patch tokens: ReLU(sum_d mean_n(dp/dA_nd) * A_nd).

    Args:
        activations: (N, D) patch tokens of the target layer (CLS removed).
        grads: (K, N, D) gradients of each of K class scores w.r.t. them.
        grid: (h, w) with h * w = N.
    Returns:
        (K, h, w) non-negative, un-normalised CAMs.
    """
    weights = grads.mean(1)  # (K, D): channel weights = spatially averaged gradients
    cams = torch.einsum('kd,nd->kn', weights, activations).clamp(min=0)
    return cams.view(-1, *grid)


def cam_box_mask(cams: Tensor, threshold: float) -> Tensor:
    """Box mask of CLIP-ES's ``scoremap2bbox(multi_contour_eval=True)``.

    The map is quantised to uint8 (x * 255, truncated), thresholded strictly above
    ``int(threshold * max)``; every contour's bounding rect ``(x, y, x + w, y + h)``,
    clipped to ``(W - 1, H - 1)``, is filled as ``mask[y0:y1, x0:x1] = 1`` (so the
    clipped last row/column is never inside a box, as in the official code).

    Args:
        cams: (K, h, w) maps in [0, 1].
        threshold: relative threshold (0.4 for VOC, 0.7 for COCO).
    Returns:
        (K, h, w) float {0, 1} mask.
    """
    maps = (cams.detach().float().cpu().numpy() * 255).astype(np.uint8)
    height, width = maps.shape[1:]
    masks = np.zeros(maps.shape, np.float32)
    for k, score in enumerate(maps):
        _, binary = cv2.threshold(score, int(threshold * score.max()), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            masks[k, y:min(y + h, height - 1), x:min(x + w, width - 1)] = 1
    return torch.from_numpy(masks).to(cams.device)


def sinkhorn_affinity(attn: Tensor, n_iters: int = 3, n_power: int = 1) -> Tensor:
    """Transition matrix of CAA from a patch-to-patch attention map.

    Alternating column / row normalisation ``n_iters`` times, symmetrised
    ``(T + T^T) / 2``, then multiplied by itself ``n_power`` times (T <- T @ T).

    Args:
        attn: (N, N) non-negative attention (rows: queries).
    Returns:
        (N, N) transition matrix.
    """
    trans = attn.float()
    for _ in range(n_iters):
        trans = trans / trans.sum(0, keepdim=True)
        trans = trans / trans.sum(1, keepdim=True)
    trans = (trans + trans.t()) / 2
    for _ in range(n_power):
        trans = trans @ trans
    return trans


def caa_refine(cams: Tensor, trans: Tensor, box_mask: Tensor) -> Tensor:
    """Class-aware affinity refinement: ``(T * mask_row) @ cam`` per class.

    The box mask zeroes the *columns* of T, i.e. only patches inside the class's boxes
    propagate score. (T * m[None, :]) @ c == T @ (m * c).

    Args:
        cams: (K, h, w) Grad-CAMs in [0, 1].
        trans: (N, N) transition matrix.
        box_mask: (K, h, w) {0, 1}.
    Returns:
        (K, h, w) refined, un-normalised maps.
    """
    src = (cams * box_mask).flatten(1)  # (K, N)
    return (src @ trans.t()).view_as(cams)
