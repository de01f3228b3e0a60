"""Batched photometric views for the ToCo family, run on the device.

The official ToCo / DuPL pipelines apply these augmentations per sample on the CPU to
uint8 PIL images (ToCo ``datasets/voc.py``: ``flip_and_color_jitter`` + its own
``GaussianBlur`` / ``Solarization``; DuPL ``utils/imutils.py: augment_data_strong`` +
``utils/randomaug.py``). Here the geometric part that needs the original image stays in
the data pipeline (:class:`mmwsss.datasets.transforms.RandomResizedCropView`) and the
photometric part runs batched inside the model's data preprocessor:

* :class:`PhotometricView`: ToCo's ``global_view1`` / ``global_view2`` / ``local_view``
  (flip, ColorJitter, grayscale, Gaussian blur, solarisation).
* :class:`StrongView`: DuPL's strong view (RandAugment with photometric ops only + flip).

Both take (B, 3, H, W) RGB images in 0..255 (uint8 or float) on any device and return
float32 0..255 images and a (B,) bool ``flipped`` tensor; normalisation is the caller's.

Numerics. Each op works on uint8 images through ``torchvision.transforms.v2.functional``,
so every step is re-quantised to uint8 like the official PIL pipeline (a PIL image is
uint8 between every op); float inputs are rounded to uint8 first. The random parameters
are drawn per sample from ``generator`` (or torch's global RNG), always the same number
of draws per sample, so a seeded generator reproduces a batch exactly.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn

from mmwsss.registry import MODELS

__all__ = ['PhotometricView', 'StrongView', 'TOCO_JITTER', 'DUPL_RANDAUG_OPS', 'pil_gaussian_blur']

Range = Tuple[float, float]

#: ToCo's ``T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8)``.
TOCO_JITTER: Dict[str, float] = dict(
    brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, prob=0.8)


def _as_uint8(imgs: Tensor) -> Tensor:
    """(B, 3, H, W) uint8 or float 0..255 -> uint8 (rounded, clamped)."""
    if imgs.dim() != 4 or imgs.shape[1] != 3:
        raise ValueError(f'expected (B, 3, H, W) RGB images, got shape {tuple(imgs.shape)}')
    if imgs.dtype == torch.uint8:
        return imgs
    if not imgs.is_floating_point():
        raise TypeError(f'expected uint8 or float images in 0..255, got {imgs.dtype}')
    return imgs.detach().round().clamp(0, 255).to(torch.uint8)


def _rand(num: int, cols: int, generator: Optional[torch.Generator]) -> Tensor:
    """(num, cols) uniform [0, 1) draws on the generator's device, returned on the CPU.

    Drawing on the generator's own device is what lets a CUDA generator be passed; the
    values come back to the CPU because they are used as Python scalars (one small sync).
    """
    device = generator.device if generator is not None else torch.device('cpu')
    return torch.rand(num, cols, generator=generator, device=device).cpu()


def _factor_range(value: Union[None, float, Sequence[float]],
                  name: str,
                  center: float = 1.0,
                  clip_zero: bool = True) -> Optional[Range]:
    """torchvision ``ColorJitter._check_input``: ``v`` -> ``[max(0, c - v), c + v]``.

    Returns None (the op is skipped, as in torchvision) for None / 0 / ``(c, c)``.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f'jitter {name} must be non-negative, got {value}')
        lo, hi = center - float(value), center + float(value)
        if clip_zero:
            lo = max(lo, 0.0)
    else:
        lo, hi = (float(v) for v in value)
        if lo > hi:
            raise ValueError(f'jitter {name} range must be increasing, got {value}')
    if lo == hi == center:
        return None
    return lo, hi


def pil_gaussian_blur(img: Tensor, radius: float) -> Tensor:
    """PIL's ``ImageFilter.GaussianBlur(radius)`` with a sampled Gaussian, on tensors.

    PIL's radius *is* the standard deviation: it runs three extended box blurs whose
    variances add up to ``radius**2``, and whose combined support is about
    ``+-3 * radius``. So this uses sigma = radius and kernel size
    ``2 * ceil(3 * radius) + 1`` (the same +-3 sigma support, where more than 99.7 % of a
    Gaussian's mass lies), and replicates the edge pixels as PIL's box blur does
    (torchvision's own ``gaussian_blur`` reflects: the image is padded by the kernel
    radius with ``replicate`` first, so the reflection only touches the padding).
    On a real 640x479 photo this is within 0.3-0.55 grey levels (mean absolute
    difference) of PIL for radii 0.5-2 (tests/test_models/test_data_preprocessors).

    Args:
        img: (3, H, W) or (N, 3, H, W) uint8.
        radius: PIL's radius (> 0).
    Returns:
        uint8 tensor of ``img``'s shape, rounded like torchvision's uint8 path.
    """
    if radius <= 0:
        raise ValueError(f'blur radius must be > 0, got {radius}')
    half = max(1, math.ceil(3.0 * radius))
    ksize = 2 * half + 1
    squeeze = img.dim() == 3
    x = img.unsqueeze(0) if squeeze else img
    x = F.pad(x.float(), (half, half, half, half), mode='replicate')
    x = TF.gaussian_blur(x, [ksize, ksize], [float(radius), float(radius)])
    x = x[..., half:-half, half:-half].round_().clamp_(0, 255).to(torch.uint8)
    return x.squeeze(0) if squeeze else x


class _PerSampleAugment(nn.Module):
    """Shared batch forward: per-sample parameters (``sample_params``), applied image by
    image (``apply_one``) on uint8 tensors; subclasses define those two."""

    def sample_params(self, num: int, generator: Optional[torch.Generator] = None) -> List[dict]:
        raise NotImplementedError  # pragma: no cover

    def apply_one(self, img: Tensor, params: dict) -> Tensor:
        raise NotImplementedError  # pragma: no cover

    def forward(self,
                imgs: Tensor,
                generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """Augment a batch.

        Args:
            imgs: (B, 3, H, W) RGB, uint8 or float in 0..255, any device.
            generator: optional torch generator (CPU or ``imgs``' device) for the draws.
        Returns:
            ``(out, flipped)``: (B, 3, H, W) float32 0..255 RGB on ``imgs``' device, and a
            (B,) bool tensor, True where the sample was horizontally flipped.
        """
        x = _as_uint8(imgs)
        params = self.sample_params(x.shape[0], generator)
        out = torch.stack([self.apply_one(x[i], p) for i, p in enumerate(params)]) \
            if len(params) else x
        flipped = torch.tensor([p['flip'] for p in params], dtype=torch.bool, device=x.device)
        return out.float(), flipped


@MODELS.register_module()
class PhotometricView(_PerSampleAugment):
    """ToCo's per-view photometric augmentation, batched on the device.

    Per sample, in ToCo's order (``flip_and_color_jitter`` then blur then solarise):

    1. horizontal flip with ``flip_prob``;
    2. with ``jitter['prob']``: ColorJitter, i.e. brightness, contrast, saturation and hue
       factors drawn uniformly from torchvision's ranges (``[max(0, 1 - v), 1 + v]``,
       hue ``[-v, v]``) and applied in a random order (a fresh permutation of the four per
       sample, as torchvision's ``ColorJitter`` draws one per call);
    3. grayscale (3 equal channels, luma ``0.2989 R + 0.587 G + 0.114 B``) with ``gray_prob``;
    4. Gaussian blur with ``blur_prob``, PIL radius uniform in ``blur_radius``
       (ToCo's ``transforms.GaussianBlur``: ``radius_min=0.1, radius_max=2.0``), see
       :func:`pil_gaussian_blur`;
    5. solarisation with ``solarize_prob``: values ``>= solarize_threshold`` become
       ``255 - v`` (``PIL.ImageOps.solarize``, default threshold 128).

    ToCo's three views differ only in the blur / solarise probabilities (:attr:`PRESETS`):
    ``global_view1`` (main image, blur 1.0), ``global_view2`` (blur 0.1, solarise 0.2,
    after :class:`~mmwsss.datasets.transforms.RandomResizedCropView`), ``local_view``
    (blur 0.5; the 96x96 local crops are cut from its output). In ToCo the flip of each
    view is independent of the others and of the image box; ``flipped`` reports it so
    the caller can choose to keep (official) or undo that.

    Args:
        flip_prob: probability of a horizontal flip.
        jitter: ColorJitter settings ``dict(brightness, contrast, saturation, hue, prob)``
            (each a float as in torchvision, or a ``(min, max)`` range); None disables it.
        gray_prob: probability of converting to grayscale.
        blur_prob: probability of a Gaussian blur.
        blur_radius: ``(min, max)`` of the uniformly drawn PIL blur radius.
        solarize_prob: probability of solarising.
        solarize_threshold: solarisation threshold in 0..255 units.
    """

    PRESETS: Dict[str, dict] = {
        'global_view1':
        dict(flip_prob=0.5, jitter=TOCO_JITTER, gray_prob=0.2, blur_prob=1.0, solarize_prob=0.0),
        'global_view2':
        dict(flip_prob=0.5, jitter=TOCO_JITTER, gray_prob=0.2, blur_prob=0.1, solarize_prob=0.2),
        'local_view':
        dict(flip_prob=0.5, jitter=TOCO_JITTER, gray_prob=0.2, blur_prob=0.5, solarize_prob=0.0),
    }

    # columns of the per-sample uniform draws (a fixed count per sample, see _rand)
    _FLIP, _JIT, _B, _C, _S, _H, _GRAY, _BLUR, _RAD, _SOL = range(10)
    _NUM_DRAWS = 10 + 4  # + 4 keys whose argsort is the jitter order

    def __init__(self,
                 flip_prob: float = 0.5,
                 jitter: Optional[dict] = TOCO_JITTER,
                 gray_prob: float = 0.2,
                 blur_prob: float = 1.0,
                 blur_radius: Sequence[float] = (0.1, 2.0),
                 solarize_prob: float = 0.0,
                 solarize_threshold: float = 128) -> None:
        super().__init__()
        for name, p in (('flip_prob', flip_prob), ('gray_prob', gray_prob),
                        ('blur_prob', blur_prob), ('solarize_prob', solarize_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        self.flip_prob = float(flip_prob)
        self.gray_prob = float(gray_prob)
        self.blur_prob = float(blur_prob)
        self.solarize_prob = float(solarize_prob)
        self.solarize_threshold = float(solarize_threshold)
        lo, hi = (float(r) for r in blur_radius)
        if not 0 < lo <= hi:
            raise ValueError(f'blur_radius must satisfy 0 < min <= max, got {blur_radius}')
        self.blur_radius = (lo, hi)
        jitter = dict(jitter) if jitter is not None else dict(prob=0.0)
        unknown = set(jitter) - {'brightness', 'contrast', 'saturation', 'hue', 'prob'}
        if unknown:
            raise ValueError(f'unknown jitter keys {sorted(unknown)}')
        self.jitter_prob = float(jitter.get('prob', 1.0))
        if not 0.0 <= self.jitter_prob <= 1.0:
            raise ValueError(f'jitter prob must be in [0, 1], got {self.jitter_prob}')
        self.brightness = _factor_range(jitter.get('brightness'), 'brightness')
        self.contrast = _factor_range(jitter.get('contrast'), 'contrast')
        self.saturation = _factor_range(jitter.get('saturation'), 'saturation')
        self.hue = _factor_range(jitter.get('hue'), 'hue', center=0.0, clip_zero=False)
        if self.hue is not None and not -0.5 <= self.hue[0] <= self.hue[1] <= 0.5:
            raise ValueError(f'hue range must lie in [-0.5, 0.5], got {self.hue}')

    @classmethod
    def preset(cls, name: str, **overrides) -> 'PhotometricView':
        """Build one of ToCo's views (:attr:`PRESETS`), optionally overriding arguments."""
        if name not in cls.PRESETS:
            raise KeyError(f'unknown preset {name!r}; choose from {sorted(cls.PRESETS)}')
        return cls(**{**cls.PRESETS[name], **overrides})

    def sample_params(self, num: int, generator: Optional[torch.Generator] = None) -> List[dict]:
        """Draw the random parameters of ``num`` samples.

        Returns:
            one dict per sample: ``flip`` (bool), ``jitter`` (None, or a list of
            ``(op, factor)`` in application order, op in brightness / contrast /
            saturation / hue), ``gray`` (bool), ``blur_radius`` (None or float),
            ``solarize`` (bool).
        """
        u = _rand(num, self._NUM_DRAWS, generator)
        # argsort of 4 i.i.d. uniforms is a uniformly random permutation
        orders = torch.argsort(u[:, 10:], dim=1).tolist()
        u = u[:, :10].tolist()
        ranges = (('brightness', self.brightness, self._B), ('contrast', self.contrast, self._C),
                  ('saturation', self.saturation, self._S), ('hue', self.hue, self._H))
        params = []
        for row, order in zip(u, orders):
            jitter = None
            if row[self._JIT] < self.jitter_prob:
                jitter = []
                for k in order:  # torchvision: for fn_id in randperm(4), skip None ranges
                    op, rng, col = ranges[k]
                    if rng is not None:
                        jitter.append((op, rng[0] + row[col] * (rng[1] - rng[0])))
            radius = None
            if row[self._BLUR] < self.blur_prob:
                lo, hi = self.blur_radius
                radius = lo + row[self._RAD] * (hi - lo)
            params.append(
                dict(
                    flip=row[self._FLIP] < self.flip_prob,
                    jitter=jitter,
                    gray=row[self._GRAY] < self.gray_prob,
                    blur_radius=radius,
                    solarize=row[self._SOL] < self.solarize_prob))
        return params

    def apply_one(self, img: Tensor, params: dict) -> Tensor:
        """Apply one sample's parameters.

        Args:
            img: (3, H, W) uint8 RGB.
            params: one entry of :meth:`sample_params`.
        Returns:
            (3, H, W) uint8 RGB.
        """
        if params['flip']:
            img = TF.horizontal_flip(img)
        for op, factor in params['jitter'] or ():
            if op == 'brightness':
                img = TF.adjust_brightness(img, factor)
            elif op == 'contrast':
                img = TF.adjust_contrast(img, factor)
            elif op == 'saturation':
                img = TF.adjust_saturation(img, factor)
            else:
                img = TF.adjust_hue(img, factor)
        if params['gray']:
            img = TF.rgb_to_grayscale(img, num_output_channels=3).contiguous()
        if params['blur_radius'] is not None:
            img = pil_gaussian_blur(img, params['blur_radius'])
        if params['solarize']:
            img = TF.solarize(img, self.solarize_threshold)
        return img

    def extra_repr(self) -> str:
        return (f'flip_prob={self.flip_prob}, jitter_prob={self.jitter_prob}, '
                f'brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue}, gray_prob={self.gray_prob}, '
                f'blur_prob={self.blur_prob}, blur_radius={self.blur_radius}, '
                f'solarize_prob={self.solarize_prob}, '
                f'solarize_threshold={self.solarize_threshold}')


#: DuPL ``utils/randomaug.py: augment_list``: the ops it keeps, with their (min, max)
#: magnitude ranges. AutoContrast / Equalize ignore the magnitude.
DUPL_RANDAUG_OPS: Dict[str, Range] = {
    'autocontrast': (0, 1),
    'equalize': (0, 1),
    'posterize': (0, 6),
    'color': (0.1, 1.9),
    'contrast': (0.1, 1.9),
    'brightness': (0.1, 1.9),
    'sharpness': (0.1, 1.9),
}


@MODELS.register_module()
class StrongView(_PerSampleAugment):
    """DuPL's strong view: RandAugment (photometric ops only) + horizontal flip.

    DuPL (``utils/imutils.py: augment_data_strong(images, n=5, m=10)``) turns each
    de-normalised main image into a PIL image, applies ``RandAugment(n, m)`` and then
    ``torch.flip`` along the width *unconditionally*; the x0.75 downscale happens after
    that in the training step and stays with the caller here.

    RandAugment (``utils/randomaug.py``): per sample, ``num_ops`` ops drawn uniformly
    *with replacement* (``random.choices``) from :data:`DUPL_RANDAUG_OPS`, each applied at
    the fixed value ``magnitude / 30 * (max - min) + min`` (no random sign, no random
    magnitude). With m = 10: posterize keeps ``max(1, int(2.0)) = 2`` bits, and Color /
    Contrast / Brightness / Sharpness enhance with factor 0.7. The PIL ops map to
    torchvision's tensor ops, which follow PIL's definitions: ``ImageOps.autocontrast``
    -> ``autocontrast`` (per-channel min/max stretch), ``ImageOps.equalize`` -> ``equalize``,
    ``ImageOps.posterize`` -> ``posterize``, ``ImageEnhance.Color`` ->
    ``adjust_saturation`` (blend with the grayscale image), ``Contrast`` ->
    ``adjust_contrast`` (blend with the mean grey; PIL rounds that mean to an integer),
    ``Brightness`` -> ``adjust_brightness`` (blend with black), ``Sharpness`` ->
    ``adjust_sharpness`` (blend with PIL's SMOOTH 3x3 filter, borders kept).

    Every op is photometric: a pixel moves nowhere, only the flip changes the geometry.

    Args:
        num_ops: RandAugment's ``n``.
        magnitude: RandAugment's ``m`` (0..30).
        flip_prob: probability of the horizontal flip (DuPL: always, 1.0).
        ops: names from :data:`DUPL_RANDAUG_OPS` to choose from.
    """

    def __init__(self,
                 num_ops: int = 5,
                 magnitude: float = 10,
                 flip_prob: float = 1.0,
                 ops: Sequence[str] = tuple(DUPL_RANDAUG_OPS)) -> None:
        super().__init__()
        if num_ops < 0:
            raise ValueError(f'num_ops must be >= 0, got {num_ops}')
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob}')
        unknown = [op for op in ops if op not in DUPL_RANDAUG_OPS]
        if unknown or not ops:
            raise ValueError(f'ops must be a non-empty subset of {list(DUPL_RANDAUG_OPS)}, '
                             f'got {list(ops)}')
        self.num_ops = int(num_ops)
        self.magnitude = float(magnitude)
        self.flip_prob = float(flip_prob)
        self.ops = tuple(ops)
        self.values = {op: self.op_value(op, self.magnitude) for op in self.ops}

    @staticmethod
    def op_value(op: str, magnitude: float) -> Union[int, float]:
        """DuPL's ``(m / 30) * (max - min) + min``; posterize bits ``max(1, int(v))``."""
        lo, hi = DUPL_RANDAUG_OPS[op]
        val = (float(magnitude) / 30) * float(hi - lo) + lo
        return max(1, int(val)) if op == 'posterize' else val

    def _apply_op(self, img: Tensor, op: str) -> Tensor:
        """One op on a (3, H, W) uint8 image."""
        v = self.values[op]
        if op == 'autocontrast':
            return TF.autocontrast(img)
        if op == 'equalize':
            return TF.equalize(img)
        if op == 'posterize':
            return TF.posterize(img, int(v))
        if op == 'color':
            return TF.adjust_saturation(img, v)
        if op == 'contrast':
            return TF.adjust_contrast(img, v)
        if op == 'brightness':
            return TF.adjust_brightness(img, v)
        return TF.adjust_sharpness(img, v)

    def sample_params(self, num: int, generator: Optional[torch.Generator] = None) -> List[dict]:
        """Per sample: ``ops`` (list of ``num_ops`` op names, in order) and ``flip`` (bool)."""
        u = _rand(num, 1 + self.num_ops, generator)
        # floor(u * K) of a uniform is a uniform index in [0, K): random.choices' draw
        idx = (u[:, 1:] * len(self.ops)).floor().long().clamp_(max=len(self.ops) - 1)
        return [
            dict(ops=[self.ops[k] for k in row], flip=bool(f < self.flip_prob))
            for row, f in zip(idx.tolist(), u[:, 0].tolist())
        ]

    def apply_one(self, img: Tensor, params: dict) -> Tensor:
        """(3, H, W) uint8 -> (3, H, W) uint8 with one sample's parameters."""
        for op in params['ops']:
            img = self._apply_op(img, op)
        return TF.horizontal_flip(img) if params['flip'] else img

    def extra_repr(self) -> str:
        return (f'num_ops={self.num_ops}, magnitude={self.magnitude}, '
                f'flip_prob={self.flip_prob}, ops={self.ops}')
