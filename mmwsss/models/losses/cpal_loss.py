"""CPAL's losses as plain tensor functions (Tang et al., CVPR'24; no official code).

``L = L_BCE + w_self * L_self + w_fda * L_fda``:

- ``L_BCE``: the classifier's multi-label soft margin loss (a ``ClsTerm``);
- ``L_self`` (prototype-guided self-supervision, :func:`cpal_self_loss`): SIPE's GSC form
  between the classifier's normalised CAM and the PA-CAM, ``mean |norm_cam - PA / max|``
  (the abstract: the prototype map "supervises the initial CAM"; SIPE, a named base,
  supervises it this way);
- ``L_fda`` (feature distribution alignment, :func:`feature_distribution_alignment`): the
  dense features of each seed region are aligned with the class's context-aware prototype.
  ``distance='ce'`` (default) aligns each pixel's distribution over the image's prototypes
  (``softmax_k cos(f_i, P_k) / tau``) with its seed label; ``'cosine'`` pulls it to its own
  prototype (``1 - cos``).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .gsc_loss import gsc_loss

FDA_DISTANCES = ('ce', 'cosine')


def cpal_self_loss(norm_cam: Tensor, pa_cam: Tensor, eps: float = 1e-5) -> Tensor:
    """``mean |norm_cam - pa_cam / (max_hw pa_cam + eps)|`` over all K channels and pixels.

    Args:
        norm_cam: (B, K, h, w) SIPE's normalised CAM with bg, x the valid mask (gradient to
            the classifier and backbone).
        pa_cam: (B, K, h, w) PA-CAM (gradient to the side convs).
        eps: of the max normalisation.
    Returns:
        scalar.
    """
    return gsc_loss(norm_cam, pa_cam, eps)


def feature_distribution_alignment(feature: Tensor,
                                   seeds: Tensor,
                                   protos: Tensor,
                                   present: Tensor,
                                   distance: str = 'ce',
                                   tau: float = 0.1) -> Tensor:
    """Align the dense features of every seed region with the context-aware prototypes.

    Args:
        feature: (B, D, h, w) ``hie_fea`` (gradient flows here).
        seeds: (B, K, h, w) one-hot seeds (0 where a pixel has no seed, e.g. padding).
        protos: (B, K, D) context-aware prototypes (the caller detaches them: targets).
        present: (B, K) bool, classes with seeds; the others are not candidates.
        distance: ``'ce'``: ``-log softmax_{k present}(cos(f_i, P_k) / tau)[y_i]``;
            ``'cosine'``: ``1 - cos(f_i, P_{y_i})``.
        tau: temperature of ``'ce'``.
    Returns:
        scalar, the mean over the seeded pixels of the batch (0 with none).
    """
    if distance not in FDA_DISTANCES:
        raise ValueError(f'distance must be one of {FDA_DISTANCES}, got {distance!r}')
    b, k, h, w = seeds.shape
    cos = torch.einsum('bkd,bdn->bkn', F.normalize(protos, dim=-1),
                       F.normalize(feature, dim=1).flatten(2))  # (B, K, hw)
    y = seeds.flatten(2)  # (B, K, hw)
    seeded = y.sum(1) > 0  # (B, hw)
    n = seeded.sum()
    if n == 0:
        return feature.sum() * 0.0
    if distance == 'cosine':
        per_pixel = ((1.0 - cos) * y).sum(1)
    else:
        logits = (cos / tau).masked_fill(~present[..., None], float('-inf'))
        logp = logits.log_softmax(1)
        # y is 0 on absent classes (their seeds are empty): 0 * -inf is avoided by where
        per_pixel = -torch.where(y > 0, logp, torch.zeros_like(logp)).sum(1)
    return (per_pixel * seeded.to(per_pixel.dtype)).sum() / n
