"""PAR: pixel-adaptive refinement (AFA; the same module in ToCo, DuPL, MoRe, WeCLIP).

PAR propagates masks over a fixed sparse neighbourhood: for every dilation d in
``dilations`` the 8 neighbours at (+-d, +-d), (0, +-d), (+-d, 0) (no centre),
K = 8 * len(dilations) neighbours in all, replicate padding at the borders.
With I the image (B, 3, H, W) and I_n its K neighbours:

    aff_n   = mean_rgb( -(|I_n - I| / (std_n(I_n) + 1e-8) / w1) ** 2 )
    pos_n   = d_n * (sqrt(2) for diagonal neighbours, else 1)
    pos_aff = -(pos_n / (std_n(pos) + 1e-8) / w1) ** 2
    A_n     = softmax_n(aff_n) + w2 * softmax_n(pos_aff)
    mask   <- sum_n A_n * mask_n        (num_iter times)

``std_n`` is the unbiased (Bessel) standard deviation over the K neighbours, as
``torch.std`` in the official code. ``sum_n A_n = 1 + w2``, so every iteration
scales a constant mask by (1 + w2); the official code does not renormalise and
neither do we (argmax is unaffected).

The affinity divides colour differences by their per-channel spread, so any
per-channel affine change of the image (0..1, 0..255, ImageNet-normalised)
gives the same result up to the 1e-8; the mean over channels makes the RGB
order irrelevant too.

:func:`refine_cams_with_bg` is ToCo's ``refine_cams_with_bkg_v2`` vectorised
over the batch; :class:`PARRefiner` wraps it as a refiner.
"""
import math
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, add_background
from .base import BaseRefiner, RefineState

# Neighbour order of the official 3x3 kernel (row-major, centre skipped):
# (dy, dx) in units of the dilation; entries 0, 2, 5, 7 are the diagonals.
_KERNEL_OFFSETS: Tuple[Tuple[int, int],
                       ...] = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def par_offsets(dilations: Sequence[int]) -> List[Tuple[int, int, float]]:
    """(dy, dx, distance) of the K = 8 * len(dilations) neighbours, official order."""
    out = []
    for d in dilations:
        for dy, dx in _KERNEL_OFFSETS:
            out.append((dy * d, dx * d, d * (math.sqrt(2) if dy and dx else 1.0)))
    return out


def _shifted_views(x: Tensor, dilations: Sequence[int]) -> List[Tensor]:
    """The K replicate-padded neighbour maps of x (B, C, H, W) as views.

    Replicate padding clamps coordinates, so one pad by the largest dilation
    gives every dilation's neighbours (the official code pads per dilation).
    """
    h, w = x.shape[-2:]
    p = max(dilations)
    pad = F.pad(x, [p] * 4, mode='replicate')
    return [pad[..., p + dy:p + dy + h, p + dx:p + dx + w] for dy, dx, _ in par_offsets(dilations)]


def neighbour_index(h: int,
                    w: int,
                    dilations: Sequence[int],
                    device=None,
                    dtype: torch.dtype = torch.int64) -> Tensor:
    """(H*W, K) flat index of each pixel's neighbours, coordinates clamped (replicate)."""
    ys = torch.arange(h, device=device, dtype=dtype)[:, None]
    xs = torch.arange(w, device=device, dtype=dtype)[None]
    cols = [((ys + dy).clamp(0, h - 1) * w + (xs + dx).clamp(0, w - 1)).reshape(-1)
            for dy, dx, _ in par_offsets(dilations)]
    return torch.stack(cols, 1)


def dilated_neighbours(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """Replicate-padded neighbours: (B, C, H, W) -> (B, C, K, H, W)."""
    return torch.stack(_shifted_views(x, dilations), 2)


@MODELS.register_module()
class PAR(nn.Module):
    """Pixel-adaptive refinement as in AFA / ToCo (``model/PAR.py``).

    Args:
        dilations: neighbour dilations (AFA / ToCo: 1, 2, 4, 8, 12, 24).
        num_iter: propagation steps (10; AFA uses 15 on COCO, WeCLIP 20).
        w1: temperature of both affinities (0.3).
        w2: weight of the position affinity (0.01).
        backend: how the propagation is computed (same result):
            ``'sparse'``: the K neighbour weights as one block-diagonal CSR
            matrix (B*H*W rows) times the (B*H*W, C) masks, num_iter sparse
            matmuls; ``'shift'``: one shifted view and one fused multiply-add
            per neighbour; ``'auto'``: sparse on CPU without autograd (1.5-2x
            faster than shift, and few large ops stay fast on a busy machine),
            shift otherwise (GPU, gradients).
        cpu_chunk_bytes: ``'shift'`` on CPU propagates channel groups of about
            this many bytes one after the other (channels are independent), which
            keeps the working set in cache (2-7x faster). None: all at once.
    """

    def __init__(self,
                 dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                 num_iter: int = 10,
                 w1: float = 0.3,
                 w2: float = 0.01,
                 backend: str = 'auto',
                 cpu_chunk_bytes: Optional[int] = 4 << 20) -> None:
        super().__init__()
        if not dilations or min(dilations) < 1:
            raise ValueError(f'PAR dilations must be positive, got {dilations}')
        if backend not in ('auto', 'sparse', 'shift'):
            raise ValueError(f"PAR backend must be 'auto', 'sparse' or 'shift', got '{backend}'")
        self.backend = backend
        self.dilations = tuple(int(d) for d in dilations)
        self.num_iter = int(num_iter)
        self.w1 = float(w1)
        self.w2 = float(w2)
        self.cpu_chunk_bytes = cpu_chunk_bytes
        pos = torch.tensor([dist for _, _, dist in par_offsets(self.dilations)],
                           dtype=torch.float32)
        pos_aff = -(pos / (pos.std() + 1e-8) / self.w1)**2
        # The position term does not depend on the pixel: one (K,) vector.
        self.register_buffer('pos_weight', pos_aff.softmax(0), persistent=False)

    def affinity(self, imgs: Tensor) -> Tensor:
        """Neighbour weights A: (B, 3, H, W) float image -> (B, K, H, W).

        Works neighbour by neighbour on shifted views, so the (B, 3, K, H, W)
        tensor of the official code is never built (2-3x faster on CPU, and
        the memory peak is the (B, K, H, W) result).
        """
        if not imgs.is_floating_point():
            imgs = imgs.float()
        views = _shifted_views(imgs, self.dilations)
        k = len(views)
        grad = torch.is_grad_enabled() and imgs.requires_grad
        # Unbiased std over the K neighbours per channel (torch.std), two-pass.
        mean = sum(views) / k
        sq = sum((v - mean)**2 for v in views)
        std = (sq / (k - 1)).sqrt() + 1e-8
        pos = self.pos_weight.to(imgs)[None, :, None, None]
        if grad:
            dists = [(((v - imgs).abs() / std / self.w1)**2).mean(1) for v in views]
            return torch.stack(dists, 1).neg().softmax(1) + self.w2 * pos
        # No autograd: fill one (B, K, H, W) buffer and softmax it in place.
        b, _, h, w = imgs.shape
        aff = imgs.new_empty(b, k, h, w)
        for i, v in enumerate(views):
            d = (v - imgs).abs_().div_(std).div_(self.w1).square_()
            torch.mean(d, 1, out=aff[:, i])
        aff.neg_()
        aff.sub_(aff.amax(1, keepdim=True)).exp_()
        aff.div_(aff.sum(1, keepdim=True))
        return aff.add_(self.w2 * pos)

    def propagate(self, masks: Tensor, aff: Tensor) -> Tensor:
        """Apply ``num_iter`` steps of mask <- sum_n A_n * mask_n.

        Args:
            masks: (B, C, H, W) at the affinity's size.
            aff: (B, K, H, W) from :meth:`affinity`.
        """
        backend = self.backend
        if backend == 'auto':
            grad = torch.is_grad_enabled() and (masks.requires_grad or aff.requires_grad)
            backend = 'sparse' if masks.device.type == 'cpu' and not grad else 'shift'
        if backend == 'sparse':
            return self._propagate_sparse(masks, aff)
        if masks.device.type == 'cpu' and self.cpu_chunk_bytes:
            per_channel = masks[:, :1].numel() * masks.element_size()
            chunk = max(1, self.cpu_chunk_bytes // per_channel)
            if chunk < masks.shape[1]:
                return torch.cat([self._propagate(m, aff) for m in masks.split(chunk, 1)], 1)
        return self._propagate(masks, aff)

    def _propagate(self, masks: Tensor, aff: Tensor) -> Tensor:
        weights = aff.unsqueeze(2).unbind(1)  # K x (B, 1, H, W), broadcast over C
        for _ in range(self.num_iter):
            out = torch.zeros_like(masks)
            # One shifted view per neighbour: no (B, C, K, H, W) tensor.
            for view, weight in zip(_shifted_views(masks, self.dilations), weights):
                out.addcmul_(view, weight)
            masks = out
        return masks

    def _propagate_sparse(self, masks: Tensor, aff: Tensor) -> Tensor:
        b, c, h, w = masks.shape
        n, k = h * w, aff.shape[1]
        itype = torch.int32 if b * n * k < 2**31 - 1 else torch.int64
        cols = neighbour_index(h, w, self.dilations, masks.device, itype)  # (n, K)
        if b > 1:  # block-diagonal: image i's pixels are rows/cols i*n .. (i+1)*n - 1
            offset = torch.arange(b, device=masks.device, dtype=itype) * n
            cols = cols[None] + offset[:, None, None]
        crow = torch.arange(0, b * n * k + 1, k, device=masks.device, dtype=itype)
        values = aff.permute(0, 2, 3, 1).reshape(-1).to(masks.dtype)  # row p: its K weights
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "sparse CSR support is in beta"
            trans = torch.sparse_csr_tensor(
                crow, cols.reshape(-1), values, size=(b * n, b * n), check_invariants=False)
        x = masks.permute(0, 2, 3, 1).reshape(b * n, c)
        for _ in range(self.num_iter):
            x = trans @ x
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()

    def forward(self, imgs: Tensor, masks: Tensor) -> Tensor:
        """Refine masks with the image.

        Args:
            imgs: (B, 3, H, W) float image (any per-channel scaling).
            masks: (B, C, h, w) masks/scores; resized to (H, W) with bilinear,
                align_corners=True first.
        Returns:
            (B, C, H, W) refined masks.
        """
        if imgs.dim() != 4 or masks.dim() != 4 or imgs.shape[0] != masks.shape[0]:
            raise ValueError(f'PAR expects imgs (B, 3, H, W) and masks (B, C, h, w), got '
                             f'{tuple(imgs.shape)} and {tuple(masks.shape)}')
        if masks.shape[-2:] != imgs.shape[-2:]:
            masks = F.interpolate(masks, size=imgs.shape[-2:], mode='bilinear', align_corners=True)
        return self.propagate(masks, self.affinity(imgs))


def _bg_map(value: Union[float, Tensor], like: Tensor) -> Tensor:
    """Constant (float) or per-image ((B,) tensor) bg score as (B, 1, H, W)."""
    b, _, h, w = like.shape
    if isinstance(value, Tensor) and value.dim() > 0:
        value = value.to(like).reshape(-1, 1, 1, 1)
    return like.new_ones(b, 1, h, w) * value


def refine_cams_with_bg(par: PAR,
                        img: Tensor,
                        cams: Tensor,
                        img_labels: Tensor,
                        bg_high: Union[float, Tensor] = 0.7,
                        bg_low: Union[float, Tensor] = 0.25,
                        down_scale: int = 2,
                        valid_mask: Optional[Tensor] = None,
                        ignore_index: int = IGNORE_INDEX) -> Tensor:
    """ToCo's ``refine_cams_with_bkg_v2``, batched: PAR labels with an ignore band.

    For bg in (bg_high, bg_low): [bg, cams] is resized by 1/down_scale
    (bilinear, align_corners=False), softmaxed over bg + the image's classes,
    refined by PAR on the equally resized image, resized back and argmaxed,
    giving label_h and label_l. Result: label_h, 255 where label_h is bg, 0 where
    both are bg, 255 where ``valid_mask`` is False.

    The official code loops over images and keeps only the present channels;
    here absent classes get -inf logits before the softmax (so exactly 0 after
    it, and PAR is linear per channel), and the batch only carries the union of
    present classes: the labels are the same (tested).

    Args:
        par: a :class:`PAR` module.
        img: (B, 3, H, W) image; ToCo passes the de-normalised uint8 RGB / 255.
        cams: (B, C, H, W) normalised fg CAMs.
        img_labels: (B, C) multi-hot.
        bg_high, bg_low: bg scores (float, or (B,) per image as DuPL's dynamic
            threshold) of the confident-fg and confident-bg passes.
        down_scale: PAR runs at (H // down_scale, W // down_scale).
        valid_mask: optional (B, H, W) bool, False -> ignore (ToCo's img_box).
        ignore_index: label of the uncertain band and invalid pixels.
    Returns:
        (B, H, W) long labels in {0..C, ignore_index}.
    """
    b, _, h, w = img.shape
    if cams.shape[0] != b or cams.shape[-2:] != (h, w):
        raise ValueError(f'cams {tuple(cams.shape)} do not match image {tuple(img.shape)}')
    if img_labels.shape != cams.shape[:2]:
        raise ValueError(f'img_labels {tuple(img_labels.shape)} do not match cams '
                         f'{tuple(cams.shape[:2])}')
    size = (h // down_scale, w // down_scale)
    img_s = img.float()
    if size != (h, w):
        img_s = F.interpolate(img_s, size=size, mode='bilinear', align_corners=False)

    present = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1) > 0
    keys = present.any(0).nonzero().flatten()  # bg + union of present classes
    present = present[:, keys][..., None, None]
    cams = cams[:, keys[1:] - 1].float()

    passes = []
    for bg in (bg_high, bg_low):
        logits = torch.cat([_bg_map(bg, cams), cams], 1)
        if size != (h, w):
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        passes.append(logits.masked_fill(~present, float('-inf')).softmax(1))
    n = keys.numel()
    refined = par(img_s, torch.cat(passes, 1))  # both passes share one affinity
    if size != (h, w):
        # channels-last: the same values, about 2x faster on CPU for resize + argmax
        refined = F.interpolate(
            refined.contiguous(memory_format=torch.channels_last),
            size=(h, w),
            mode='bilinear',
            align_corners=False)
    labels = []
    for i in range(2):
        scores = refined[:, i * n:(i + 1) * n].masked_fill(~present, float('-inf'))
        labels.append(keys[scores.argmax(1)])
    label_h, label_l = labels
    label = label_h.clone()
    label[label_h == 0] = ignore_index
    label[(label_h == 0) & (label_l == 0)] = 0
    if valid_mask is not None:
        label[~valid_mask.bool()] = ignore_index
    return label


_IMG_NORMS = ('unit', 'imagenet', 'raw')
_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)


def par_image(img: Tensor, img_norm: str = 'unit') -> Tensor:
    """The float image PAR sees, from a uint8 (or float 0..255) RGB image.

    ``'unit'``: uint8 / 255, what ToCo / DuPL / MoRe pass (``denormalize_img2``:
    the de-normalised image cast to uint8, then / 255; a float input is cast
    the same way). ``'imagenet'``: (img - mean) / std (WeCLIP). ``'raw'``: 0..255.
    """
    if img_norm not in _IMG_NORMS:
        raise ValueError(f"img_norm must be one of {_IMG_NORMS}, got '{img_norm}'")
    if img.is_floating_point():
        img = img.clamp(0, 255).to(torch.uint8)
    img = img.float()
    if img_norm == 'unit':
        return img / 255.0
    if img_norm == 'imagenet':
        mean = img.new_tensor(_IMAGENET_MEAN)[None, :, None, None]
        std = img.new_tensor(_IMAGENET_STD)[None, :, None, None]
        return (img - mean) / std
    return img


@MODELS.register_module()
class PARRefiner(BaseRefiner):
    """PAR as a refiner.

    ``mode='bg_band'`` (default) is ToCo's ``refine_cams_with_bkg_v2``
    (:func:`refine_cams_with_bg`): reads ``img``, ``cams``, ``img_labels``,
    ``valid_mask``; writes ``label`` with the 255 band.
    ``mode='scores'`` refines a score map as WeCLIP does (no softmax): reads
    ``scores`` if set, else bg + CAMs with bg = (1 - max cam) ** ``bg_power``
    (absent classes zeroed); writes ``scores`` (B, 1 + C, H, W) and clears
    ``label``.

    Args:
        dilations, num_iter, w1, w2: :class:`PAR` parameters.
        bg_high, bg_low: bg scores of the two passes (ToCo: 0.7, 0.25); a
            state key ``'bg_high'`` / ``'bg_low'`` (float or (B,) tensor)
            overrides them for one call (DuPL's per-image dynamic threshold).
        down_scale: PAR resolution divisor (ToCo: 2).
        img_norm: the float image PAR sees, see :func:`par_image`.
        mode: ``'bg_band'`` or ``'scores'``.
        bg_power: exponent of the bg score in ``'scores'`` mode (WeCLIP: 1).
    """

    def __init__(self,
                 dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                 num_iter: int = 10,
                 w1: float = 0.3,
                 w2: float = 0.01,
                 bg_high: float = 0.7,
                 bg_low: float = 0.25,
                 down_scale: int = 2,
                 img_norm: str = 'unit',
                 mode: str = 'bg_band',
                 bg_power: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if mode not in ('bg_band', 'scores'):
            raise ValueError(f"PARRefiner mode must be 'bg_band' or 'scores', got '{mode}'")
        if img_norm not in _IMG_NORMS:
            raise ValueError(f"img_norm must be one of {_IMG_NORMS}, got '{img_norm}'")
        if int(down_scale) < 1:
            raise ValueError(f'down_scale must be >= 1, got {down_scale}')
        self.par = PAR(dilations, num_iter, w1, w2)
        self.bg_high = bg_high
        self.bg_low = bg_low
        self.down_scale = int(down_scale)
        self.img_norm = img_norm
        self.mode = mode
        self.bg_power = bg_power

    @torch.no_grad()
    def refine(self, state: RefineState) -> RefineState:
        if state.get('img') is None:
            raise KeyError("PARRefiner needs 'img' in the refine state")
        cams = state['cams']
        labels = state.get('img_labels')
        if labels is None:
            labels = torch.ones(cams.shape[:2], device=cams.device)
        img = par_image(state['img'], self.img_norm).to(cams.device)
        if self.mode == 'bg_band':
            # per-call bg scores (a float or a (B,) per-image tensor, DuPL's dynamic
            # threshold) may come in the state, e.g. from CAMLabelSource(refiner_thr=...)
            bg_high = state.get('bg_high')
            bg_low = state.get('bg_low')
            state['label'] = refine_cams_with_bg(self.par, img, cams, labels,
                                                 self.bg_high if bg_high is None else bg_high,
                                                 self.bg_low if bg_low is None else bg_low,
                                                 self.down_scale, state.get('valid_mask'))
            return state
        scores = state.get('scores')
        if scores is None:
            fg = cams * labels[..., None, None].to(cams)
            scores = add_background(fg, power=self.bg_power)
        elif scores.shape[1] != cams.shape[1] + 1 or scores.shape[-2:] != cams.shape[-2:]:
            raise ValueError(f"'scores' {tuple(scores.shape)} must be (B, 1 + C, H, W) "
                             f'with cams {tuple(cams.shape)}')
        h, w = scores.shape[-2:]
        size = (h // self.down_scale, w // self.down_scale)
        if size != (h, w):
            img = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
            scores = F.interpolate(scores.float(), size=size, mode='bilinear', align_corners=False)
        refined = self.par(img, scores.float())
        if size != (h, w):
            refined = F.interpolate(refined, size=(h, w), mode='bilinear', align_corners=False)
        state['scores'] = refined
        state['label'] = None
        return state
