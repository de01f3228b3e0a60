"""Extra image views for multi-view WSSS methods (ToCo's second global view).

ToCo (``datasets/voc.py: VOC12ClsDataset``, ``aug=True``) builds, per sample, the main
image (rescale 0.5-2, flip, zero-padded 448 crop, then ``global_view1``), a local image
(``local_view`` of the same crop) and a second global view,
``global_view2(original image)`` = ``RandomResizedCrop(448, scale=(0.4, 1), bicubic)`` +
flip / ColorJitter / grayscale / blur p 0.1 / solarise p 0.2.

In mmwsss only the geometric part that needs the *original* image runs here, per
sample on the CPU: :class:`RandomResizedCropView` cuts the second view's crop from the
image as loaded. The photometric parts (including the flips) run batched on the device
in the data preprocessor (:class:`mmwsss.models.data_preprocessors.PhotometricView`).
:class:`PackWSSSViews` packs the view next to the usual inputs, as a per-sample
``data_sample.views`` field that mmengine's collate keeps per sample.

Pipeline order::

    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomResizedCropView', out_key='view2', size=448),  # right after loading
    ...  # rescale / crop of the main image
    dict(type='PackWSSSViews', keys=('view2', )),  # in place of PackWSSSInputs
"""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mmwsss.registry import TRANSFORMS
from .formatting import MMSEG_META_KEYS, PackWSSSInputs

__all__ = ['RandomResizedCropView', 'PackWSSSViews', 'ViewData', 'random_resized_crop_params']


def random_resized_crop_params(
        height: int,
        width: int,
        scale: Tuple[float, float] = (0.4, 1.0),
        ratio: Tuple[float, float] = (3 / 4, 4 / 3),
        rng: Optional[np.random.RandomState] = None) -> Tuple[int, int, int, int]:
    """torchvision's ``RandomResizedCrop.get_params``, drawn from numpy's RNG.

    Up to 10 tries: area fraction ~ U(scale), aspect ratio (w / h) log-uniform in
    ``ratio``; the first box that fits is placed uniformly. Otherwise the fallback is
    torchvision's: the centred crop of the largest box whose ratio is clamped to
    ``ratio`` (the whole image when its own ratio is inside).

    Args:
        height, width: image size.
        scale: range of the crop area as a fraction of the image area.
        ratio: range of the crop aspect ratio (width / height).
        rng: numpy RandomState; the global one (which mmengine seeds per worker) if None.
    Returns:
        ``(top, left, h, w)`` of the crop, integers, inside the image.
    """
    rng = np.random if rng is None else rng
    area = height * width
    log_lo, log_hi = np.log(ratio[0]), np.log(ratio[1])
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = float(np.exp(rng.uniform(log_lo, log_hi)))
        w = int(round(np.sqrt(target_area * aspect)))
        h = int(round(np.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.randint(0, height - h + 1))
            left = int(rng.randint(0, width - w + 1))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


@TRANSFORMS.register_module()
class RandomResizedCropView(BaseTransform):
    """Cut a RandomResizedCrop view from the image *as loaded* into ``results[out_key]``.

    ToCo's ``global_view2`` starts from the original full image, not from the rescaled
    and cropped main image, so this transform must come **right after
    LoadWSSSImageFromFile**, before any resize / crop / flip of ``results['img']``
    (``results['img']`` is left untouched). It refuses an ``img`` whose size differs
    from ``ori_shape``, the usual sign of being placed after a resize.

    The crop box is torchvision's ``RandomResizedCrop`` (see
    :func:`random_resized_crop_params`); it is resized with PIL (``backend='pillow'``)
    and bicubic interpolation by default, as ToCo does on its PIL image. The output has
    the colour order of ``results['img']`` (BGR as mmcv loads it): resizing is
    per-channel. Flip and colour augmentation are *not* done here (they run on the
    device, see :class:`mmwsss.models.data_preprocessors.PhotometricView`).

    Required keys: img (H, W, C), ori_shape (optional, checked).
    Added keys: ``out_key`` (uint8 (h, w, C)), ``out_key + '_box'``
    (int64 ``[y0, y1, x0, x1]`` of the crop in the original image, ToCo's img_box
    convention).

    Args:
        out_key: where to write the view.
        size: output size, an int (square) or ``(h, w)``.
        scale: crop area range, as a fraction of the image area.
        ratio: crop aspect-ratio (width / height) range.
        interpolation: mmcv interpolation name.
        backend: ``'pillow'`` (ToCo; PIL antialiases when shrinking) or ``'cv2'``
            (no antialiasing: a 3x shrink differs from PIL by ~8 grey levels on average).
    """

    def __init__(self,
                 out_key: str = 'view2',
                 size: Union[int, Sequence[int]] = 448,
                 scale: Sequence[float] = (0.4, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3),
                 interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        if out_key in ('img', 'gt_seg_map'):
            raise ValueError(f'out_key {out_key!r} would overwrite the main sample')
        if isinstance(size, int):
            size = (size, size)
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f'size must be a positive int or (h, w), got {size}')
        scale = tuple(float(s) for s in scale)
        ratio = tuple(float(r) for r in ratio)
        if not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got {scale}')
        if not (len(ratio) == 2 and 0 < ratio[0] <= ratio[1]):
            raise ValueError(f'ratio must satisfy 0 < min <= max, got {ratio}')
        if backend not in ('pillow', 'cv2'):
            raise ValueError(f"backend must be 'pillow' or 'cv2', got {backend!r}")
        self.out_key = out_key
        self.size = size
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        ori = results.get('ori_shape')
        if ori is not None and tuple(ori[:2]) != (height, width):
            raise ValueError(
                f'RandomResizedCropView needs the image as loaded (ori_shape {tuple(ori)}) '
                f'but img is {height}x{width}: place it right after LoadWSSSImageFromFile')
        top, left, h, w = random_resized_crop_params(height, width, self.scale, self.ratio)
        crop = img[top:top + h, left:left + w]
        if crop.dtype != np.uint8:
            # PIL resizes uint8 images; ToCo's view is uint8 as well (to_float32 loading)
            crop = np.clip(np.round(crop), 0, 255).astype(np.uint8)
        out_h, out_w = self.size
        view = mmcv.imresize(
            np.ascontiguousarray(crop), (out_w, out_h),
            interpolation=self.interpolation,
            backend=self.backend)
        results[self.out_key] = view
        results[self.out_key + '_box'] = np.array([top, top + h, left, left + w], np.int64)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(out_key={self.out_key!r}, size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation!r}, backend={self.backend!r})')


class ViewData(BaseDataElement):
    """The extra views of one sample: one (C, H, W) tensor per view name.

    A :class:`~mmengine.structures.BaseDataElement`, so ``data_sample.to(device)`` /
    ``.cpu()`` move the views along; readable as ``views.view2``, ``views['view2']``,
    ``'view2' in views`` and ``views.keys()``.
    """

    def __getitem__(self, name: str) -> torch.Tensor:
        if not isinstance(name, str) or name not in self.keys():
            raise KeyError(f'no view {name!r}; views: {list(self.keys())}')
        return getattr(self, name)


@TRANSFORMS.register_module()
class PackWSSSViews(PackWSSSInputs):
    """:class:`PackWSSSInputs` that also packs extra views into ``data_sample.views``.

    Use it **in place of** ``PackWSSSInputs`` (not after it: mmseg's packing returns a
    fresh ``{'inputs', 'data_samples'}`` dict, so nothing else of ``results`` survives
    it). Each ``results[key]`` (H, W, C) image becomes a (C, H, W) tensor of the same
    dtype (uint8 for :class:`RandomResizedCropView`) and channel order (BGR as loaded;
    the preprocessor converts like it does for ``inputs``) in the :class:`ViewData`
    field ``data_sample.views``. mmengine's ``pseudo_collate`` (the runner's default)
    keeps data samples as a per-sample list, so views of different sizes are fine.

    Args:
        keys: result keys of the views to pack.
        meta_keys: as :class:`PackWSSSInputs`.
    """

    def __init__(
        self,
        keys: Sequence[str] = ('view2', ),
        meta_keys: Sequence[str] = MMSEG_META_KEYS + ('img_labels', )
    ) -> None:
        super().__init__(meta_keys=meta_keys)
        if isinstance(keys, str):
            keys = (keys, )
        self.keys = tuple(keys)
        if not self.keys or len(set(self.keys)) != len(self.keys):
            raise ValueError(f'keys must be non-empty and unique, got {keys}')

    @staticmethod
    def _to_tensor(img: np.ndarray, key: str) -> torch.Tensor:
        """(H, W, C) or (H, W) array -> contiguous (C, H, W) tensor of the same dtype."""
        img = np.asarray(img)
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3:
            raise ValueError(f'view {key!r} must be an (H, W, C) image, got {img.shape}')
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))

    def transform(self, results: dict) -> dict:
        missing = [k for k in self.keys if k not in results]
        if missing:
            raise KeyError(f'views {missing} not in the results of {results.get("img_path")}; '
                           'add RandomResizedCropView (right after loading) for each')
        views = {k: self._to_tensor(results[k], k) for k in self.keys}
        packed = super().transform(results)
        packed['data_samples'].views = ViewData(**views)
        return packed

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(keys={self.keys}, '
                f'meta_keys={tuple(self.meta_keys)})')
