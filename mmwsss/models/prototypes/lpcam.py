"""LPCAM's formulas as plain tensor functions (Chen & Sun CVPR'23, ``zhaozhengChen/LPCAM``
``step/make_lpcam.py`` and ``step_coco/make_lpcam.py``).

LPCAM replaces the classifier CAM by the mean cosine similarity of the pixel features
with local prototypes: for every class c, k-means centres of the features under the
class's CAM (the "fg pool", CAM > ``select_thres``) and of the features outside it (the
"context pool", CAM < ``select_thres``), kept or dropped by what the trained classifier
says about each centre:

    p = softmax_k(centre @ W.T)[c]          (W: the (C, D) CAM classifier weight)
    class prototypes:   p > class_thres                       (0.9)
    context prototypes: context_thres_low < p < context_thres (VOC 0.05 / 0.9, COCO 0 / 0.5)

and the map of class c on a (flip-fused) feature map f is

    A_c = mean_k cos(f, P^c_k)                          if class c has no context centre
    A_c = relu(mean_k cos(f, P^c_k) - mean_j cos(f, Q^c_j))   otherwise

(the ReLU is applied only with context, as in the official code). Per image, the maps of
the scales (each resized to the image) are averaged and divided by their max.

Every function here is importable on its own and has documented tensor shapes, so that
it can be compared with the official code on identical inputs.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.cam import merge
from ..utils.cam_inference import rescale_inputs, strided_up_size
from .functional import cosine_maps

#: the official defaults (``load_feature_select_and_cluster``), per dataset.
LPCAM_DEFAULTS = dict(
    voc=dict(
        num_clusters=12,
        select_thres=0.1,
        class_thres=0.9,
        context_thres=0.9,
        context_thres_low=0.05,
        images_per_class=None,
        sample_seed=666),
    coco=dict(
        num_clusters=20,
        select_thres=0.25,
        class_thres=0.9,
        context_thres=0.5,
        context_thres_low=0.0,
        images_per_class=100,
        sample_seed=666),
)


# --------------------------------------------------------------------------- pools
def nearest_resize(cam: Tensor, size: Tuple[int, int]) -> Tensor:
    """``F.interpolate(cam[None], size)[0]`` (mode 'nearest'): how the official code
    brings the high-resolution CAM to the feature grid.

    Args:
        cam: (K, H, W) CAMs.
        size: (h, w) the feature grid.
    Returns:
        (K, h, w); source pixel ``floor(i * H / h)`` for output row ``i``.
    """
    if tuple(cam.shape[-2:]) == tuple(size):
        return cam
    return F.interpolate(cam[None].float(), size=tuple(size), mode='nearest')[0]


def split_pools(feat: Tensor, cam: Tensor, select_thres: float) -> Tuple[Tensor, Tensor]:
    """One image's contribution to a class's fg and context pools.

    Args:
        feat: (D, h, w) single-scale features.
        cam: (h, w) the class's max-normalised CAM on the feature grid.
        select_thres: pixels with ``cam > thr`` go to the fg pool, ``cam < thr`` to the
            context pool; pixels exactly at the threshold go nowhere (official).
    Returns:
        fg (n, D) and context (m, D) raw features.
    """
    if feat.dim() != 3 or cam.shape != feat.shape[1:]:
        raise ValueError(f'feat must be (D, h, w) and cam (h, w) on the same grid, got '
                         f'{tuple(feat.shape)} and {tuple(cam.shape)}')
    flat = feat.flatten(1).t()
    c = cam.flatten()
    return flat[c > select_thres], flat[c < select_thres]


def sample_images_per_class(labels: np.ndarray, num: int = 100, seed: int = 666) -> np.ndarray:
    """LPCAM's COCO ``split_100``: per class, ``num`` images drawn **with replacement**
    (``np.random.choice`` default) from the images that have the class, classes in order,
    from one generator seeded once (``np.random.seed(666)``).

    Args:
        labels: (N, C) multi-hot image labels.
        num: images per class.
        seed: the seed of the single draw sequence.
    Returns:
        (C, num) int64 image indices; a row is empty (-1) for a class without images
        (the official code would raise there).
    """
    rng = np.random.RandomState(seed)
    out = np.full((labels.shape[1], num), -1, dtype=np.int64)
    for c in range(labels.shape[1]):
        having = np.nonzero(labels[:, c])[0]
        if having.size:
            out[c] = rng.choice(having, num)
    return out


# --------------------------------------------------------------------------- clustering
def kmeans_cosine(x: Tensor,
                  num_clusters: int,
                  seed: int = 0,
                  init: str = 'random',
                  n_init: int = 1,
                  max_iter: int = 300,
                  tol: float = 1e-4) -> Tuple[Tensor, Tensor]:
    """Cosine k-means with scikit-learn: L2-normalise the rows, run Euclidean KMeans.

    The official ``kmeans_pytorch.kmeans(distance='cosine')`` assigns by cosine and
    returns the **raw** mean of each cluster's members; it starts from random data points
    without a seed. Here the assignment comes from scikit-learn on unit vectors (seeded)
    and the returned centres are, like the official ones, the raw-feature means of the
    members -- this matters: the classifier-softmax selection depends on the centres'
    norm. ``init='random'`` picks data points like the official init (``'k-means++'`` is
    the alternative).

    Args:
        x: (N, D) features.
        num_clusters: K; reduced to N when there are fewer points.
        seed: ``random_state``.
        init, n_init, max_iter, tol: scikit-learn ``KMeans`` options (the official
            ``tol=5`` is on the raw squared centre shift and has no equivalent).
    Returns:
        labels (N,) int64 and centres (K', D) raw means, K' = min(K, N) (0 when N = 0).
    """
    from sklearn.cluster import KMeans
    n = x.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long), x.new_zeros((0, x.shape[1]))
    k = min(int(num_clusters), n)
    unit = F.normalize(x.float(), dim=1).cpu().numpy()
    km = KMeans(
        n_clusters=k, init=init, n_init=n_init, max_iter=max_iter, tol=tol, random_state=seed)
    labels = torch.from_numpy(km.fit_predict(unit).astype(np.int64))
    return labels, cluster_means(x, labels, k)


def cluster_means(x: Tensor, labels: Tensor, k: int) -> Tensor:
    """(k, D) mean of the rows of ``x`` (N, D) assigned to each cluster by ``labels``
    (N,); an empty cluster gets zeros."""
    x = x.float()
    total = x.new_zeros((k, x.shape[1])).index_add_(0, labels, x)
    count = torch.bincount(labels, minlength=k).clamp(min=1).to(x.dtype)
    return total / count[:, None]


# --------------------------------------------------------------------------- selection
def classifier_probs(centers: Tensor, weight: Tensor) -> Tensor:
    """``softmax(centers @ weight.T, dim=1)``: (K, D), (C, D) -> (K, C)."""
    return F.softmax(centers.float() @ weight.float().t(), dim=1)


def select_centers(centers: Tensor,
                   weight: Tensor,
                   class_id: int,
                   high: float,
                   low: Optional[float] = None,
                   keep_best: bool = False) -> Tensor:
    """The classifier-softmax selection of LPCAM.

    Args:
        centers: (K, D) cluster centres (raw feature scale).
        weight: (C, D) classifier weight.
        class_id: c.
        high: keep ``p > high`` (fg: class_thres 0.9); with ``low``, keep
            ``low < p < high`` (context: context_thres_low / context_thres).
        low: see ``high``.
        keep_best: if nothing passes, keep the centre(s) of the largest p
            (``p > max p - 1e-6``): the COCO code's fallback for the class centres.
            The VOC code has none and fails later on an empty set.
    Returns:
        (K,) bool.
    """
    if centers.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool)
    p = classifier_probs(centers, weight)[:, class_id]
    keep = p > high if low is None else (p > low) & (p < high)
    if keep_best and not keep.any():
        keep = p > p.max() - 1e-6
    return keep


# --------------------------------------------------------------------------- the map
def lpcam_class_map(feats: Tensor, centers: Tensor, context: Optional[Tensor] = None) -> Tensor:
    """The LPCAM of one class before resizing.

    Args:
        feats: (B, D, h, w) (flip-fused) features.
        centers: (K, D) the class's prototypes, K >= 1.
        context: (J, D) its context prototypes; None or J = 0: no subtraction, no ReLU.
    Returns:
        (B, h, w): ``mean_k cos(f, P_k)``, or ``relu(that - mean_j cos(f, Q_j))``.
    """
    if centers.shape[0] == 0:
        raise ValueError('lpcam_class_map needs at least one class prototype')
    att = cosine_maps(feats, centers.to(feats)).mean(1)
    if context is not None and context.shape[0] > 0:
        att = F.relu(att - cosine_maps(feats, context.to(feats)).mean(1))
    return att


def lpcam_max_norm(cams: Tensor) -> Tensor:
    """``cam / max(cam)`` per (H, W) map, as the official code (no epsilon).

    A map whose max is <= 0 (e.g. all zero after the context ReLU) becomes zeros; the
    official code writes NaN (0 / 0) there. (K, H, W) or (B, K, H, W) -> same shape.
    """
    cmax = cams.flatten(-2).max(-1)[0][..., None, None]
    safe = torch.where(cmax > 0, cmax, torch.ones_like(cmax))
    return torch.where(cmax > 0, cams / safe, torch.zeros_like(cams))


def flip_fused_features(feat_fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``f(x) + flip(f(flip x))`` in one batch: (B, 3, H, W) -> (B, D, h, w)."""
    b = x.shape[0]
    f = feat_fn(torch.cat([x, x.flip(-1)], 0))
    return f[:b] + f[b:].flip(-1)


def lpcam_multi_scale(feat_fn: Callable[[Tensor], Tensor],
                      inputs: Tensor,
                      protos: Dict[int, Tuple[Tensor, Optional[Tensor]]],
                      scales: Sequence[float] = (1.0, 0.5, 1.5, 2.0),
                      input_resize: str = 'pil_bicubic',
                      img_norm: Optional[dict] = None,
                      out_stride: Optional[int] = 16,
                      scale_merge: str = 'mean',
                      align_corners: bool = False) -> Tensor:
    """``make_lpcam`` of one image: the ``high_res`` maps of the given classes.

    Per scale: the input rescaled by the project's :func:`rescale_inputs` (IRN's PIL
    bicubic by default), flip-fused features, :func:`lpcam_class_map` per class, bilinear
    resize to ``strided_up_size(H, W, out_stride)`` cropped to H x W (IRN's
    ``high_res`` grid); then the scales are merged (``'mean'`` VOC, ``'sum'`` COCO: the
    same after the max normalisation) and each class map is divided by its max.

    Args:
        feat_fn: (N, 3, h, w) normalised images -> (N, D, h', w') features.
        inputs: (1, 3, H, W) one normalised, unpadded image.
        protos: {class index: (centers (K, D), context (J, D) or None)}, in output order.
        scales, input_resize, img_norm: see :func:`rescale_inputs`.
        out_stride: the network stride of the upsample-then-crop; None resizes to H x W.
        scale_merge: 'mean' | 'sum' | 'max'.
        align_corners: of the bilinear resizes.
    Returns:
        (len(protos), H, W) maps in [0, 1] (the official ``high_res``).
    """
    if inputs.shape[0] != 1:
        raise ValueError(f'lpcam_multi_scale runs one image, got a batch of {inputs.shape[0]}')
    h, w = inputs.shape[-2:]
    if not protos:
        return inputs.new_zeros((0, h, w))
    up = strided_up_size((h, w), out_stride) if out_stride else (h, w)
    per_scale = []
    for s in scales:
        x = rescale_inputs(inputs, s, input_resize, align_corners, img_norm)
        f = flip_fused_features(feat_fn, x)
        maps = torch.stack([lpcam_class_map(f, p, q)[0] for p, q in protos.values()], 0)
        maps = F.interpolate(maps[None], size=up, mode='bilinear', align_corners=align_corners)
        per_scale.append(maps[0, :, :h, :w])
    return lpcam_max_norm(merge(per_scale, scale_merge))


__all__ = [
    'LPCAM_DEFAULTS', 'nearest_resize', 'split_pools', 'sample_images_per_class', 'kmeans_cosine',
    'cluster_means', 'classifier_probs', 'select_centers', 'lpcam_class_map', 'lpcam_max_norm',
    'flip_fused_features', 'lpcam_multi_scale'
]
