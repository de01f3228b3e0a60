"""SIPE's general-specific consistency (GSC) loss (``train_resnet50_SIPE.py::train``)."""
import torch
import torch.nn.functional as F
from torch import Tensor


def gsc_loss(norm_cam: Tensor, is_cam: Tensor, eps: float = 1e-5) -> Tensor:
    """``mean |norm_cam - IS_cam / (max_hw IS_cam + eps)|`` over all K channels and pixels.

    Args:
        norm_cam: (B, K, h, w) the classifier's normalised CAM with bg, times the valid mask
            (gradient to the classifier and backbone).
        is_cam: (B, K, h, w) IS-CAM (gradient to the side convs through the prototypes and
            the features; the max of the normalisation is part of the graph, as in the
            official in-place division).
        eps: of the max normalisation.
    Returns:
        scalar loss.
    """
    if norm_cam.shape != is_cam.shape:
        raise ValueError(f'norm_cam {tuple(norm_cam.shape)} and IS-CAM {tuple(is_cam.shape)} '
                         'differ in shape')
    peak = F.adaptive_max_pool2d(is_cam, (1, 1))
    return torch.mean(torch.abs(norm_cam - is_cam / (peak + eps)))
