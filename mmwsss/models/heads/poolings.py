"""Pooling of a CAM head: image logits from features and CAMs, written once.

Every pooling is a registered module ``pool(feats, cams, classifier) -> (B, C)``
so that a CAM head has exactly one forward (logits and CAMs together) and a new
pooling is a config, not a head subclass. Shapes: ``feats`` (B, D, h, w),
``cams`` (B, C, h, w) = ``classifier(feats)``, ``classifier`` the head's 1x1 conv.
"""
import math
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS


@MODELS.register_module()
class GAPool(nn.Module):
    """Global average pooling: logits = mean_hw(cam) (= W * GAP(f), IRN/SEAM/PSA)."""

    def forward(self, feats: Tensor, cams: Tensor, classifier: nn.Module) -> Tensor:
        return cams.mean((2, 3))


@MODELS.register_module()
class GMPool(nn.Module):
    """Global max pooling of the FEATURES, then the classifier (ToCo, DuPL, MoRe).

    ``logits = W * max_hw(f)``; this is not ``max_hw(cam)``: each feature
    channel takes its own maximum before the linear classifier.
    """

    def forward(self, feats: Tensor, cams: Tensor, classifier: nn.Module) -> Tensor:
        return classifier(F.adaptive_max_pool2d(feats, 1)).flatten(1)


@MODELS.register_module()
class TopKPool(nn.Module):
    """Mean of the top-k CAM values per class.

    Args:
        k: an int, or a float ratio of the h*w positions (rounded, at least 1).
    """

    def __init__(self, k: Union[int, float] = 0.25) -> None:
        super().__init__()
        if (isinstance(k, int) and k < 1) or (isinstance(k, float) and not 0 < k <= 1):
            raise ValueError(f'TopKPool k must be an int >= 1 or a ratio in (0, 1], got {k}')
        self.k = k

    def forward(self, feats: Tensor, cams: Tensor, classifier: nn.Module) -> Tensor:
        flat = cams.flatten(2)
        hw = flat.shape[-1]
        k = self.k if isinstance(self.k, int) else max(1, int(round(self.k * hw)))
        return flat.topk(min(k, hw), dim=-1)[0].mean(-1)


@MODELS.register_module()
class LSEPool(nn.Module):
    """Log-sum-exp pooling: ``(1 / r) * log(mean_hw exp(r * cam))``.

    r -> 0 gives GAP of the CAM, r -> inf its maximum.
    """

    def __init__(self, r: float = 5.0) -> None:
        super().__init__()
        if r <= 0:
            raise ValueError(f'LSEPool r must be > 0, got {r}')
        self.r = float(r)

    def forward(self, feats: Tensor, cams: Tensor, classifier: nn.Module) -> Tensor:
        flat = cams.flatten(2)
        return (torch.logsumexp(self.r * flat, dim=-1) - math.log(flat.shape[-1])) / self.r


# Short names accepted by ``CAMHead(pool='gap')``.
POOL_ALIASES = dict(gap='GAPool', gmp='GMPool', topk='TopKPool', lse='LSEPool')


def build_pool(pool: Union[str, dict, nn.Module], **defaults) -> nn.Module:
    """A pooling module from an alias (``'gmp'``), a config dict or a module."""
    if isinstance(pool, nn.Module):
        return pool
    if isinstance(pool, str):
        if pool not in POOL_ALIASES:
            raise ValueError(f"pool must be one of {tuple(POOL_ALIASES)} or a config dict, "
                             f"got '{pool}'")
        cfg = dict(type=POOL_ALIASES[pool], **defaults)
    else:
        cfg = dict(pool)
    return MODELS.build(cfg)
