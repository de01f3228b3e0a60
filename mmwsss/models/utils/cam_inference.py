"""Multi-scale + flip CAM inference with the merge rules the methods use.

    IRN / SEAM / PSA (``step/make_cam.py``): per scale, the uint8 image is PIL-
        bicubic rescaled to round(s * H) x round(s * W) and normalised; relu ->
        sum(image, flip) -> bilinear to ceil(H/16)*16 x ceil(W/16)*16 -> crop to
        H x W; sum over scales; / (max + 1e-5).
    ToCo / DuPL / MoRe (``utils/camutils.py::multi_scale_cam2``): per scale, the
        normalised input is resized bilinearly to int(s * H) x int(s * W); cam(x)
        and flip(cam(flip x)) are each resized to H x W, then merged by max;
        relu; sum over scales; minus min, / (max + 1e-5).

:func:`multi_scale_cams` covers both through explicit options, and
:data:`CAM_PRESETS` holds the faithful settings. :func:`toco_multi_scale_cam` and
:func:`irn_make_cam` are plain transcriptions of the two official functions, kept
so that a checker (and the tests) can compare them with the general function on
identical inputs.
"""
import math
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .cam import merge, normalize_cams
from .image_norm import denormalize, normalize

# Ready-made settings of ``multi_scale_cams`` per method family (reference §0.3, §1.2).
# ``input_resize='pil_bicubic'`` needs ``img_norm`` (the model's preprocessor
# statistics, ``image_norm.preprocessor_stats``); ``CAMPredictMixin.predict_cams``
# passes it.
CAM_PRESETS = dict(
    irn=dict(
        scales=(1.0, 0.5, 1.5, 2.0),
        flip=True,
        flip_merge='sum',
        scale_merge='sum',
        relu_first=True,
        resize_before_merge=False,
        norm='max',
        input_resize='pil_bicubic',
        out_stride=16),
    toco=dict(
        scales=(1.0, 0.5, 1.5),
        flip=True,
        flip_merge='max',
        scale_merge='sum',
        relu_first=False,
        resize_before_merge=True,
        norm='minmax',
        input_resize='size_int',
        out_stride=None),
    # SEAM infer_SEAM.py / CPN infer_cam.py: PIL-bicubic round(s * side) inputs, the net's
    # CAM (already at the scaled input size) bilinearly resized to the image, image + flip
    # and scales summed, then SEAM's min-max (values <= min + 1e-5 -> 0). CPN then halves
    # the map, which only rescales its background threshold (x2 here).
    seam=dict(
        scales=(0.5, 1.0, 1.5, 2.0),
        flip=True,
        flip_merge='sum',
        scale_merge='sum',
        relu_first=True,
        resize_before_merge=False,
        norm='minmax_seam',
        input_resize='pil_bicubic',
        out_stride=None),
)

INPUT_RESIZE_MODES = ('scale_factor', 'size_int', 'pil_bicubic')


def strided_up_size(size: Tuple[int, int], stride: int) -> Tuple[int, int]:
    """IRN's ``imutils.get_strided_up_size``: each side rounded up to a multiple of
    ``stride`` (the size the stride-``stride`` CAM grid covers)."""
    return tuple(int(math.ceil(s / stride)) * stride for s in size)


def pil_resize(img: Tensor, size: Tuple[int, int]) -> Tensor:
    """PIL bicubic resize of uint8 images (IRN's ``pil_resize(order=3)``, and the
    torchvision ``Resize(BICUBIC)`` CLIP-ES applies to a PIL image).

    Args:
        img: (B, 3, H, W) uint8.
        size: (h, w) target size.
    Returns:
        (B, 3, h, w) uint8. Unchanged (not resampled) when the size already
        matches, as both official helpers do.
    """
    if img.dtype != torch.uint8:
        raise TypeError(f'pil_resize expects uint8 images, got {img.dtype}')
    size = (int(size[0]), int(size[1]))
    if tuple(img.shape[-2:]) == size:
        return img
    out = []
    for one in img.cpu().permute(0, 2, 3, 1).numpy():
        # PIL takes (width, height); bicubic is applied per channel
        resized = Image.fromarray(np.ascontiguousarray(one)).resize(size[::-1], Image.BICUBIC)
        out.append(torch.from_numpy(np.asarray(resized).copy()))
    return torch.stack(out).permute(0, 3, 1, 2).contiguous().to(img.device)


def rescale_inputs(inputs: Tensor,
                   scale: float,
                   mode: str = 'scale_factor',
                   align_corners: bool = False,
                   img_norm: Optional[dict] = None) -> Tensor:
    """One scale of the network input, by one of the official rules.

    Args:
        inputs: (B, 3, H, W) normalised images.
        scale: rescale factor.
        mode: ``'scale_factor'``: ``F.interpolate(scale_factor=s)`` (bilinear;
            size floor(s * H), sampling step 1 / s); ``'size_int'``: bilinear to
            ``(int(s * H), int(s * W))`` (ToCo); ``'pil_bicubic'``: the uint8 image
            (recovered with ``img_norm``) PIL-bicubic rescaled to
            ``(round(s * H), round(s * W))``, then normalised again (IRN's
            ``pil_rescale``; Python's round, like ``np.round``, rounds halves to even).
        align_corners: of the bilinear modes.
        img_norm: ``dict(mean, std, bgr_to_rgb)`` of the data preprocessor;
            needed by ``'pil_bicubic'``.
    Returns:
        (B, 3, h', w') normalised images; ``inputs`` itself at scale 1.
    """
    if mode not in INPUT_RESIZE_MODES:
        raise ValueError(f"unknown input_resize '{mode}', expected one of {INPUT_RESIZE_MODES}")
    if scale == 1.0:
        return inputs  # every official path feeds the image as is at scale 1
    h, w = inputs.shape[-2:]
    if mode == 'scale_factor':
        return F.interpolate(
            inputs, scale_factor=scale, mode='bilinear', align_corners=align_corners)
    if mode == 'size_int':
        return F.interpolate(
            inputs,
            size=(int(scale * h), int(scale * w)),
            mode='bilinear',
            align_corners=align_corners)
    if img_norm is None:
        raise ValueError("input_resize='pil_bicubic' needs img_norm=dict(mean, std, "
                         'bgr_to_rgb) to recover the uint8 image')
    img = denormalize(inputs, **img_norm)
    img = pil_resize(img, (round(h * scale), round(w * scale)))
    return normalize(img, **img_norm).to(inputs.dtype)


def multi_scale_cams(cam_fn: Callable[[Tensor], Tensor],
                     inputs: Tensor,
                     scales: Sequence[float] = (1.0, ),
                     flip: bool = True,
                     flip_merge: str = 'sum',
                     scale_merge: str = 'sum',
                     relu_first: bool = True,
                     norm: str = 'max',
                     out_size: Optional[Tuple[int, int]] = None,
                     align_corners: bool = False,
                     img_labels: Optional[Tensor] = None,
                     resize_before_merge: bool = False,
                     input_resize: str = 'scale_factor',
                     out_stride: Optional[int] = None,
                     img_norm: Optional[dict] = None) -> Tensor:
    """CAMs merged over scales and horizontal flips.

    Per scale: rescale the input (``input_resize``), run ``cam_fn`` on it and its
    flip (one batch), optional ReLU (``relu_first``), flip-merge and resize to the
    output size (in the order ``resize_before_merge`` says), ReLU if not done
    yet; then merge the scales and normalise. The defaults are the historical
    behaviour of this function; :data:`CAM_PRESETS` holds the official settings.

    Args:
        cam_fn: maps images (N, 3, h, w) to raw CAMs (N, C, h', w').
        inputs: normalised images (B, 3, H, W).
        scales: input rescale factors.
        flip: also run the horizontally flipped image (batched with the original).
        flip_merge / scale_merge: 'sum' | 'max' | 'mean'.
        relu_first: ReLU each raw CAM before merging and resizing (IRN);
            False applies it after the per-scale resize and flip merge (ToCo).
        norm: :func:`normalize_cams` mode applied to the merged map.
        out_size: output size (default: the input size).
        align_corners: of every bilinear resize.
        img_labels: (B, C) multi-hot; absent classes are zeroed after norm.
        resize_before_merge: resize cam(x) and flip(cam(flip x)) to the output
            size first and flip-merge them there (ToCo). False merges at network
            resolution and resizes the merged map. The two differ for 'max'
            (max and bilinear resize do not commute); for 'sum' / 'mean' they
            are equal up to rounding.
        input_resize: ``'scale_factor'`` | ``'size_int'`` (ToCo) |
            ``'pil_bicubic'`` (IRN); see :func:`rescale_inputs`.
        out_stride: if set, each scale's CAM is resized to ``out_size`` rounded
            up to multiples of ``out_stride`` and cropped top-left to
            ``out_size`` (IRN: 16, its output stride, so that every CAM cell maps
            to exactly 16 x 16 pixels). None resizes straight to ``out_size``.
        img_norm: ``dict(mean, std, bgr_to_rgb)`` of the data preprocessor, for
            ``input_resize='pil_bicubic'``.
    Returns:
        (B, C, *out_size) CAMs.
    """
    b, _, h, w = inputs.shape
    out_size = tuple(out_size) if out_size is not None else (h, w)
    resize_to = strided_up_size(out_size, out_stride) if out_stride else out_size

    def resize(cam: Tensor) -> Tensor:
        if tuple(cam.shape[-2:]) == resize_to:
            return cam
        return F.interpolate(cam, size=resize_to, mode='bilinear', align_corners=align_corners)

    per_scale = []
    for s in scales:
        x = rescale_inputs(inputs, s, input_resize, align_corners, img_norm)
        if flip:
            x = torch.cat([x, x.flip(-1)], 0)
        cam = cam_fn(x)
        if relu_first:
            cam = F.relu(cam)
        if flip:
            # flip(resize(c)) == resize(flip(c)) for align_corners=False and True,
            # so only the order of merge and resize matters
            halves = [cam[:b], cam[b:].flip(-1)]
            if resize_before_merge:
                cam = merge([resize(c) for c in halves], flip_merge)
            else:
                cam = resize(merge(halves, flip_merge))
        else:
            cam = resize(cam)
        cam = cam[..., :out_size[0], :out_size[1]]  # no-op unless out_stride padded it
        if not relu_first:
            cam = F.relu(cam)
        per_scale.append(cam)
    cams = normalize_cams(merge(per_scale, scale_merge), norm)
    if img_labels is not None:
        cams = cams * img_labels[..., None, None].to(cams.dtype)
    return cams


# --------------------------------------------------------------------------
# Plain transcriptions of the official functions (for checkers and tests).
# --------------------------------------------------------------------------
def toco_multi_scale_cam(cam_fn: Callable[[Tensor], Tensor], inputs: Tensor,
                         scales: Sequence[float]) -> Tensor:
    """ToCo's ``utils/camutils.py::multi_scale_cam2`` for one CAM output.

    The aux CAM goes through the same steps with its own ``cam_fn``. As in the
    official code, scale 1.0 is always run (first) and only the other entries of
    ``scales`` add a pass, so ``scales`` without 1.0 still includes it.

    Args:
        cam_fn: (N, 3, h, w) normalised images -> (N, C, h', w') raw CAMs.
        inputs: (B, 3, H, W) normalised images.
        scales: e.g. (1.0, 0.5, 1.5).
    Returns:
        (B, C, H, W) CAMs: sum over scales of relu(max(up(cam(x)), up(flip cam(flip x)))),
        minus the per-map min, divided by (per-map max + 1e-5).
    """
    b, _, h, w = inputs.shape

    def one_scale(x: Tensor) -> Tensor:
        cam = cam_fn(torch.cat([x, x.flip(-1)], 0))
        cam = F.interpolate(cam, size=(h, w), mode='bilinear', align_corners=False)
        return F.relu(torch.max(cam[:b], cam[b:].flip(-1)))

    cam_list = [one_scale(inputs)]
    for s in scales:
        if s != 1.0:
            x = F.interpolate(
                inputs, size=(int(s * h), int(s * w)), mode='bilinear', align_corners=False)
            cam_list.append(one_scale(x))
    cam = torch.stack(cam_list, 0).sum(0)
    cam = cam + F.adaptive_max_pool2d(-cam, (1, 1))
    return cam / (F.adaptive_max_pool2d(cam, (1, 1)) + 1e-5)


def irn_make_cam(cam_fn: Callable[[Tensor], Tensor],
                 img: Tensor,
                 scales: Sequence[float],
                 mean: Sequence[float],
                 std: Sequence[float],
                 stride: int = 16) -> Tensor:
    """IRN's ``step/make_cam.py`` high-resolution CAM of one image (``highres``).

    Args:
        cam_fn: (2, 3, h, w) normalised RGB images -> (2, C, h', w') raw CAMs
            (IRN's ``CAM.forward`` applies the ReLU; it is applied here).
        img: (3, H, W) uint8 RGB image.
        scales: e.g. (1.0, 0.5, 1.5, 2.0).
        mean, std: RGB statistics in 0-255 units (IRN: ImageNet mean/std * 255).
        stride: the network's output stride (16).
    Returns:
        (C, H, W): sum over scales of relu(cam(x)) + flip(relu(cam(flip x))),
        each bilinearly upsampled to ``strided_up_size`` and cropped to H x W,
        divided by (per-map max + 1e-5). Absent classes are not removed.
    """
    height, width = img.shape[-2:]
    hwc = img.permute(1, 2, 0).cpu().numpy()
    mean_t = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    up_size = (int(math.ceil(height / stride)) * stride, int(math.ceil(width / stride)) * stride)
    outputs = []
    for s in scales:
        if s == 1:
            s_img = hwc
        else:
            target = (int(np.round(height * s)), int(np.round(width * s)))
            s_img = np.asarray(Image.fromarray(hwc).resize(target[::-1], Image.BICUBIC))
        x = (torch.from_numpy(s_img.copy()).permute(2, 0, 1).float() - mean_t) / std_t
        x = torch.stack([x, x.flip(-1)]).to(img.device)
        cam = F.relu(cam_fn(x))
        outputs.append(cam[0] + cam[1].flip(-1))
    highres = torch.stack(
        [F.interpolate(o[:, None], up_size, mode='bilinear', align_corners=False) for o in outputs],
        0).sum(0)[:, 0, :height, :width]
    return highres / (F.adaptive_max_pool2d(highres, (1, 1)) + 1e-5)
