"""USAGE (Peng et al., ICCV'23): generation loss with a temperature, cross-view seed consistency.

No code was released (godlin-sjtu/USAGE holds a README and a figure) and only the abstract was
read (reference §9): (i) a generation loss whose TEMPERATURE controls the shape of the seed
area, set by a deterministic principle per network type (CNN CAMs under-activate, Transformer
CAMs over-activate); (ii) a regularisation loss making the seeds of different views
consistent. The formulas below are our reading, not the paper's (configs/usage/README.md):

* generation: pixel probabilities p = sigmoid(cam); the image probability of class c is their
  power mean with exponent 1/tau, P_c = (mean_x p_c(x)^(1/tau))^tau, trained with binary
  cross-entropy against the image label. tau = 1 is the mean of the probabilities; tau -> 0
  is their max (a few peaks suffice: shrinks the seeds); tau > 1 is a concave mean that rewards
  raising MANY pixels (tau -> inf: geometric mean; grows the seeds). The principle: tau > 1
  for CNNs (under-activation), tau < 1 for Transformers (over-activation).
* regularisation: seeds = per-class max-normalised ReLU(CAM) of the present classes; the view's
  seeds are brought back to the main view's grid (flip undone, bilinear resize) and the mean
  absolute difference over present classes is the loss (both sides get gradients).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def power_mean_log_prob(cams: Tensor, tau: float) -> Tensor:
    """log P_c = tau * (logsumexp_x(log sigmoid(cam) / tau) - log(hw)), computed in log space.

    Args:
        cams: (B, C, h, w) raw CAMs.
        tau: temperature > 0.

    Returns:
        (B, C) log image probabilities (<= 0).
    """
    if tau <= 0:
        raise ValueError(f'temperature must be > 0, got {tau}')
    logp = F.logsigmoid(cams).flatten(2)
    n = logp.shape[-1]
    return tau * (torch.logsumexp(logp / tau, -1) - math.log(n))


def usage_generation_loss(cams: Tensor, img_labels: Tensor, tau: float) -> Tensor:
    """Binary cross-entropy of the power-mean image probabilities, mean over B and C.

    Args:
        cams: (B, C, h, w) raw CAMs.
        img_labels: (B, C) multi-hot.
        tau: temperature (CNN > 1, Transformer < 1; see the module docstring).

    Returns:
        scalar: mean of -[y log P + (1 - y) log(1 - P)].
    """
    if img_labels.shape != cams.shape[:2]:
        raise ValueError(f'img_labels {tuple(img_labels.shape)} do not match cams (B, C)')
    log_p = power_mean_log_prob(cams, tau).clamp(max=-1e-7)
    log_not_p = torch.log(-torch.expm1(log_p))  # log(1 - P), stable for P near 0 and 1
    y = img_labels.float()
    return -(y * log_p + (1 - y) * log_not_p).mean()


def seed_maps(cams: Tensor, img_labels: Tensor, eps: float = 1e-5) -> Tensor:
    """ReLU(cam) / (per-map max + eps), zero on absent classes: (B, C, h, w) -> same."""
    pos = F.relu(cams)
    peak = pos.flatten(2).max(-1)[0][..., None, None]
    return pos / (peak + eps) * img_labels.float()[..., None, None]


def usage_regularization_loss(cams: Tensor,
                              view_cams: Tensor,
                              img_labels: Tensor,
                              view_flipped: Optional[Tensor] = None,
                              align_corners: bool = False,
                              eps: float = 1e-5) -> Tensor:
    """Mean |seeds(main) - seeds(view back on the main grid)| over present classes.

    Args:
        cams: (B, C, h, w) raw CAMs of the main view.
        view_cams: (B, C, h', w') raw CAMs of the other view of the same images.
        img_labels: (B, C) multi-hot.
        view_flipped: (B,) bool, samples whose view was flipped horizontally relative to the
            main view (``ctx.view_flips[view]``; the flip is undone), or None.
        align_corners: of the bilinear resize of the view's seeds to (h, w).
        eps: of the max normalisation.

    Returns:
        scalar: sum_{b, c present, x} |s - s'| / (#present maps * h * w); 0 without classes.
    """
    s = seed_maps(cams, img_labels, eps)
    sv = seed_maps(view_cams, img_labels, eps)
    if view_flipped is not None:
        sv = torch.where(view_flipped.to(sv.device)[:, None, None, None], sv.flip(-1), sv)
    if sv.shape[-2:] != s.shape[-2:]:
        sv = F.interpolate(sv, size=s.shape[-2:], mode='bilinear', align_corners=align_corners)
    n = img_labels.float().sum() * s.shape[-2] * s.shape[-1]
    return (s - sv).abs().sum() / n.clamp_min(1.0)
