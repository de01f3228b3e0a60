"""S2C's SAM side (Kweon & Yoon, CVPR'24, "From SAM to CAMs"), on the unpatched
segment-anything through :class:`~mmwsss.models.foundation.sam.SegmentAnything`.

The official code replaces ``segment_anything/modeling/{sam.py, mask_decoder.py}``:

* ``Sam.forward(run_encoder_only=True)`` = ``preprocess`` + ``image_encoder`` on an
  already-resized batch: :meth:`S2CPrompter.encode` calls the same two functions of the
  stock model;
* ``Sam.forward(run_decoder_only=True)`` = ``prompt_encoder`` -> ``mask_decoder``
  (``multimask_output=True``) -> ``postprocess_masks(input_size=(1024, 1024))`` ->
  ``> mask_threshold``: :meth:`S2CPrompter.decode`;
* the mask decoder's ``src = image_embeddings`` instead of ``repeat_interleave`` over
  the prompt sets is the same computation for ONE prompt set, which is how S2C calls it
  (all the points of one class are one set), so the stock decoder is used.

Also here: the offline "segment everything" index map (``get_se_map.py``), the CAM peak
points of the CAM-based prompting module (CPM) and the CPM pseudo label rule
(``models/model_s2c.py::update``). Every rule is a plain function on arrays / tensors with
its shapes documented, so that it can be compared with the official code.
"""
from typing import Callable, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS

__all__ = [
    'segments_to_index_map', 'cam_peak_points', 'peaks_to_prompt_coords', 'cpm_pseudo_label',
    'S2CPrompter'
]


# ----------------------------------------------------------- segment everything
def segments_to_index_map(masks: np.ndarray) -> np.ndarray:
    """``get_se_map.py``: one index map from the automatic masks of one image.

    The map starts at -1 (no mask) and the masks are painted in REVERSED generator
    order, ``temp[mask] = i for i, mask in enumerate(reversed(masks))``: the first mask
    the generator returns gets index N - 1 and is painted last (on top).

    Args:
        masks: (N, H, W) bool, in the generator's order.
    Returns:
        (H, W) int64 in [-1, N - 1].
    """
    masks = np.asarray(masks, bool)
    if masks.ndim != 3:
        raise ValueError(f'masks must be (N, H, W), got {masks.shape}')
    out = np.full(masks.shape[1:], -1, np.int64)
    for i, m in enumerate(masks[::-1]):
        out[m] = i
    return out


# ------------------------------------------------------------------ CPM points
def cam_peak_points(cam: np.ndarray,
                    thr: float = 0.5,
                    min_distance: int = 20,
                    drop_first_peak: bool = True) -> np.ndarray:
    """The point prompts of one class: the CAM's global maximum + its local peaks.

    Official: global argmax (first in row-major order on ties), then
    ``peak_local_max(maximum_filter(cam, size=3, mode='constant'), min_distance=20)``
    (skimage defaults otherwise: ``exclude_border=min_distance``), keeping peaks whose
    *unfiltered* CAM value is > ``thr`` (``th_multi`` 0.5), and ``peaks_valid[1:]``:
    the first (highest) local peak is dropped, as it is normally the global maximum
    again (``drop_first_peak``; it is dropped even when it is not). The max filter turns
    every strict local maximum into a 3 x 3 plateau, of which ``peak_local_max`` returns
    the first pixel, so the local peaks sit one pixel up-left of the CAM's own maxima
    (kept: it is the official behaviour).

    Args:
        cam: (H, W) float, a max-normalised CAM of one present class.
    Returns:
        (P, 2) int64 (row, col) points, the global maximum first.
    """
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    cam = np.asarray(cam, np.float32)
    top = np.array(np.unravel_index(int(np.argmax(cam)), cam.shape), np.int64)[None]
    filtered = ndi.maximum_filter(cam, size=3, mode='constant')
    peaks = peak_local_max(filtered, min_distance=min_distance)
    peaks = peaks[cam[peaks[:, 0], peaks[:, 1]] > thr]
    if drop_first_peak:
        peaks = peaks[1:]
    return np.concatenate([top, peaks.astype(np.int64)], 0)


def peaks_to_prompt_coords(peaks: np.ndarray, size: Tuple[int, int], sam_size: int) -> np.ndarray:
    """(row, col) CAM pixels -> (x, y) in SAM's square ``sam_size`` input frame.

    Official: ``np.flip(peaks, -1) * size_sam / H`` for both axes (no half-pixel
    offset; SAM's prompt encoder adds its own 0.5). S2C's training crops are square, so
    x is scaled by ``sam_size / W`` and y by ``sam_size / H`` here, which is the same
    there and what a non-square input needs.

    Args:
        peaks: (P, 2) (row, col).
        size: (H, W) of the CAM / image.
    Returns:
        (P, 2) float32 (x, y).
    """
    h, w = size
    xy = np.asarray(peaks, np.float64)[:, ::-1]
    return (xy * np.array([sam_size / w, sam_size / h])).astype(np.float32)


def cpm_pseudo_label(cam_ms: Tensor,
                     img_labels: Tensor,
                     prompt_fn: Callable[[int, np.ndarray], Tuple[Tensor, Tensor]],
                     thr: float = 0.5,
                     min_distance: int = 20,
                     drop_first_peak: bool = True,
                     mask_index: int = 2) -> Tuple[Tensor, Tensor]:
    """CPM: SAM masks of the CAM peaks -> a (B, H, W) pseudo label.

    For every present class k of image i: the points of :func:`cam_peak_points` go to
    SAM as ONE prompt set (all positive); multimask output ``mask_index`` (2,
    "empirically the best") is kept; its confidence on the mask is SAM's low-res logit
    of that mask, bilinearly resized (align_corners=False) to (H, W), times the mean
    CAM of class k inside the mask. Outside masks the confidence is -1e5. The label is
    the argmax over classes; pixels whose best confidence is < 0 get the background
    index C (so the label has C + 1 values, background LAST as in the official code;
    nothing is ignored).

    Args:
        cam_ms: (B, C, H, W) max-normalised multi-scale CAMs (:func:`s2c_multi_scale_cam`).
        img_labels: (B, C) multi-hot.
        prompt_fn: ``(i, points (P, 2) (row, col)) -> (masks (M, H, W) bool, low-res
            logits (M, h, w))`` for image i (see :meth:`S2CPrompter.decode`).
    Returns:
        label (B, H, W) long in [0, C], score (B, H, W) float (the best confidence,
        0 where it was < 0).
    """
    b, c, h, w = cam_ms.shape
    conf = torch.full_like(cam_ms, -1e5)
    for i in range(b):
        for k in torch.nonzero(img_labels[i] > 0).flatten().tolist():
            points = cam_peak_points(cam_ms[i, k].float().cpu().numpy(), thr, min_distance,
                                     drop_first_peak)
            masks, low_res = prompt_fn(i, points)
            mask = masks[mask_index].to(cam_ms.device)
            if not bool(mask.any()):
                continue  # the official assigns nothing (mean of an empty set)
            logit = F.interpolate(
                low_res[mask_index][None, None].to(cam_ms), (h, w),
                mode='bilinear',
                align_corners=False)[0, 0]
            conf[i, k][mask] = logit[mask] * cam_ms[i, k][mask].mean()
    score, label = conf.max(dim=1)
    label[score < 0] = c
    score = score.clamp(min=0)
    return label, score


# -------------------------------------------------------------------- prompter
class S2CPrompter:
    """S2C's batched SAM calls on a :class:`SegmentAnything` (frozen, built lazily).

    The SAM model is NOT a submodule of the network (not in its state dict, not moved by
    ``model.to``): it is built on first use on the device :class:`SegmentAnything`
    picks (CUDA when available), so building a config (or testing a trained model) never
    loads the 2.5 GB vit_h checkpoint and a missing checkpoint fails on the first CPM
    step, naming the file.

    Args:
        sam: a :class:`SegmentAnything` or its config
            (``dict(type='SegmentAnything', arch='vit_h', checkpoint=...)``).
    """

    def __init__(self, sam: Union[dict, object]) -> None:
        self._cfg = sam if isinstance(sam, dict) else None
        self._sam = None if isinstance(sam, dict) else sam

    @property
    def sam(self):
        if self._sam is None:
            self._sam = MODELS.build(self._cfg)
        return self._sam

    @property
    def input_size(self) -> int:
        """SAM's square encoder input side (1024 for the released models)."""
        return self.sam.input_size

    @torch.no_grad()
    def prepare(self, img: Tensor) -> Tensor:
        """(B, 3, H, W) RGB 0-255 -> (B, 3, S, S) uint8: official
        ``F.interpolate(denorm(img) * 255, (1024, 1024), bilinear, align_corners=True)``
        then ``.to(torch.uint8)`` (truncation), the aspect ratio NOT kept."""
        s = self.input_size
        x = F.interpolate(
            img.to(self.sam.device).float(), (s, s), mode='bilinear', align_corners=True)
        return x.to(torch.uint8)

    @torch.no_grad()
    def encode(self, img_sam: Tensor) -> Tensor:
        """(B, 3, S, S) uint8 -> (B, 256, S/16, S/16) image embeddings (one image at a
        time, as SAM's encoder is memory-hungry)."""
        return self.sam.encode_inputs(img_sam)

    @torch.no_grad()
    def decode(self,
               features: Tensor,
               coords: np.ndarray,
               out_size: Tuple[int, int],
               labels: Optional[np.ndarray] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """One prompt set on one image's embedding.

        Args:
            features: (1, 256, S/16, S/16) of :meth:`encode`.
            coords: (P, 2) (x, y) in the S x S frame (:func:`peaks_to_prompt_coords`).
            out_size: (H, W) of the masks.
            labels: (P,) 1 = positive; None = all positive (S2C).
        Returns:
            masks (3, H, W) bool, iou predictions (3,), low-res logits (3, S/4, S/4).
        """
        dev = features.device
        pts = torch.as_tensor(np.asarray(coords, np.float32), device=dev)[None]
        lab = torch.ones(pts.shape[:2], device=dev) if labels is None else \
            torch.as_tensor(np.asarray(labels), device=dev, dtype=torch.float32)[None]
        return self.sam.decode_points(features, pts, lab, out_size)

    def prompt_fn(self, features: Tensor,
                  out_size: Tuple[int, int]) -> Callable[[int, np.ndarray], Tuple[Tensor, Tensor]]:
        """The ``prompt_fn`` of :func:`cpm_pseudo_label` on a batch of embeddings."""

        def fn(i: int, peaks: np.ndarray) -> Tuple[Tensor, Tensor]:
            coords = peaks_to_prompt_coords(peaks, out_size, self.input_size)
            masks, _, low_res = self.decode(features[i:i + 1], coords, out_size)
            return masks, low_res

        return fn
