"""CPN's complementary image pair from SLIC superpixels (``tool/imutils.py: hide_patch_ss``).

The official dataset (``voc12/data.py: VOC12ClsDataset``) takes the normalised, cropped
CHW tensor, runs ``slic(img.permute(1, 2, 0), compactness=10, n_segments=300,
start_label=1)`` on it, draws ``floor(0.5 * (K + 1))`` superpixel ids WITH replacement from
``0..K`` (``np.random.randint``; K = the largest label, id 0 never occurs) and hides them:
``img1 = img * sign``, ``img2 = img * (1 - sign)``, ``c`` = the visible pixel fraction of
``img1``, ``u = 1 - c``.

Here the pipeline image is uint8 BGR and the data preprocessor normalises later, so the
transform normalises a copy with the preprocessor's statistics for SLIC, and writes the two
views as float32 images in the pipeline's channel order whose hidden pixels hold the
preprocessor MEAN: after the preprocessor's normalisation they are exactly 0, which is
``img * sign`` of the official normalised tensor.
"""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmwsss.registry import TRANSFORMS


def superpixel_hide_mask(norm_img: np.ndarray,
                         n_segments: int = 300,
                         compactness: float = 10.0,
                         hide_ratio: float = 0.5,
                         rng: Optional[np.random.RandomState] = None) -> np.ndarray:
    """The hidden-pixel mask of ``hide_patch_ss`` (True = hidden, ``sign == 0``).

    Args:
        norm_img: (H, W, 3) float image, normalised as the network input (the official
            code runs SLIC on the normalised tensor, not on the photo).
        n_segments / compactness: SLIC settings (300, 10); ``start_label=1``.
        hide_ratio: ``floor((K + 1) * hide_ratio)`` ids are drawn with replacement from
            ``0..K``, K the largest superpixel label.
        rng: numpy RandomState (default: the global ``np.random``, as the official).
    Returns:
        (H, W) bool.
    """
    from skimage.segmentation import slic  # scikit-image, imported on use
    spx = slic(norm_img, compactness=compactness, n_segments=n_segments, start_label=1)
    num = int(np.max(spx)) + 1
    draw = (rng or np.random).randint(0, num, int(np.floor(num * hide_ratio)))
    return np.isin(spx, draw)


@TRANSFORMS.register_module()
class SuperpixelComplementaryPair(BaseTransform):
    """CPN's superpixel-hidden image pair, as two views and a visible ratio.

    Required keys: img ((H, W, 3) uint8 in the pipeline's channel order; place it after
    the crop and padding, as the official computes it on the padded crop).
    Added keys: ``visible_key`` / ``hidden_key`` (float32 (H, W, 3) images: the image with
    the hidden / the visible superpixels set to ``mean``), ``ratio_key`` (float c, the
    visible fraction of ``visible_key``), ``mask_key`` ((H, W) uint8, 1 = hidden).

    Args:
        mean / std: the data preprocessor's statistics in RGB order, 0..255 units.
        to_rgb: the pipeline image is BGR (mmcv's loader) and ``mean``/``std`` RGB.
        n_segments / compactness / hide_ratio: see :func:`superpixel_hide_mask`.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 to_rgb: bool = True,
                 n_segments: int = 300,
                 compactness: float = 10.0,
                 hide_ratio: float = 0.5,
                 visible_key: str = 'visible_img',
                 hidden_key: str = 'hidden_img',
                 ratio_key: str = 'visible_ratio',
                 mask_key: str = 'hide_mask') -> None:
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.to_rgb = to_rgb
        self.n_segments, self.compactness, self.hide_ratio = n_segments, compactness, hide_ratio
        self.visible_key, self.hidden_key = visible_key, hidden_key
        self.ratio_key, self.mask_key = ratio_key, mask_key

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'SuperpixelComplementaryPair needs an (H, W, 3) image, got '
                             f'{img.shape} ({results.get("img_path")})')
        rgb = img[..., ::-1] if self.to_rgb else img
        norm = (rgb.astype(np.float32) - self.mean) / self.std
        hidden = superpixel_hide_mask(norm, self.n_segments, self.compactness, self.hide_ratio)
        mean = self.mean[::-1] if self.to_rgb else self.mean  # in the image's channel order
        fimg = img.astype(np.float32)
        results[self.visible_key] = np.where(hidden[..., None], mean, fimg).astype(np.float32)
        results[self.hidden_key] = np.where(hidden[..., None], fimg, mean).astype(np.float32)
        results[self.ratio_key] = float((~hidden).sum() / hidden.size)
        results[self.mask_key] = hidden.astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(n_segments={self.n_segments}, '
                f'compactness={self.compactness}, hide_ratio={self.hide_ratio})')
