"""Geometric transforms used by the WSSS classification stage."""
import numpy as np
from mmcv.transforms import Resize

from mmwsss.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomResizeLong(Resize):
    """Resize so that the long side is an integer drawn uniformly from
    ``[min_long, max_long]`` (both inclusive), keeping the aspect ratio.

    This is IRN/SEAM/PSA's ``RandomResizeLong`` (e.g. ``(320, 640)`` for IRN,
    ``(448, 768)`` for SEAM). Those repos resize with PIL bicubic, hence the
    defaults ``backend='pillow'``, ``interpolation='bicubic'``; seg maps (when
    loaded) are resized with nearest, like every mmcv ``Resize``.

    mmcv's ``RandomResize(scale=(s, s), ratio_range=(a, b), keep_ratio=True)``
    draws a *continuous* long side in ``[s*a, s*b]`` and is the closest stock
    equivalent; this class keeps the integer draw of the reference code.

    Required keys: img. Modified keys: img, gt_seg_map (if present), img_shape.
    Added keys: scale, scale_factor, keep_ratio.

    Args:
        min_long (int): smallest long side.
        max_long (int): largest long side.
        backend (str): image resize backend, ``'pillow'`` or ``'cv2'``.
        interpolation (str): image interpolation.
    """

    def __init__(self,
                 min_long: int,
                 max_long: int,
                 backend: str = 'pillow',
                 interpolation: str = 'bicubic') -> None:
        if not 0 < min_long <= max_long:
            raise ValueError(f'need 0 < min_long <= max_long, got ({min_long}, {max_long})')
        super().__init__(
            scale=(max_long, max_long),
            keep_ratio=True,
            backend=backend,
            interpolation=interpolation)
        self.min_long = min_long
        self.max_long = max_long

    def transform(self, results: dict) -> dict:
        long_side = int(np.random.randint(self.min_long, self.max_long + 1))
        # keep_ratio with a square target (L, L) makes the long side exactly L
        self.scale = (long_side, long_side)
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(min_long={self.min_long}, '
                f'max_long={self.max_long}, backend={self.backend!r}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class RandomRescale(Resize):
    """Rescale the image by a factor drawn uniformly from ``ratio_range``.

    ToCo / DuPL / AFA ``random_scaling``: ``s ~ U(a, b)``, new size
    ``(int(s * w), int(s * h))`` (truncated), PIL bilinear. mmcv's
    ``RandomResize(ratio_range=...)`` scales a fixed target ``scale``, not the
    image's own size, so it cannot express this.

    Required keys: img. Modified keys: img, gt_seg_map (if present), img_shape.

    Args:
        ratio_range: (min, max) of the factor (ToCo: (0.5, 2.0)).
        backend / interpolation: as mmcv's ``Resize`` (ToCo: pillow bilinear).
    """

    def __init__(self,
                 ratio_range=(0.5, 2.0),
                 backend: str = 'pillow',
                 interpolation: str = 'bilinear') -> None:
        lo, hi = (float(r) for r in ratio_range)
        if not 0 < lo <= hi:
            raise ValueError(f'need 0 < min <= max ratio, got {ratio_range}')
        super().__init__(
            scale=(1, 1), keep_ratio=False, backend=backend, interpolation=interpolation)
        self.ratio_range = (lo, hi)

    def transform(self, results: dict) -> dict:
        s = float(np.random.uniform(*self.ratio_range))
        h, w = results['img'].shape[:2]
        self.scale = (max(1, int(s * w)), max(1, int(s * h)))  # mmcv scales are (w, h)
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ratio_range={self.ratio_range}, '
                f'backend={self.backend!r}, interpolation={self.interpolation!r})')
