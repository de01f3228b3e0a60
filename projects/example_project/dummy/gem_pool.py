"""Generalised-mean pooling of CAMs (example project component).

Shows the extension point of a CAM head: a pooling is a registered module
``pool(feats, cams, classifier) -> logits``, selected by config
(``CAMHead(pool=dict(type='DummyGeMPool', p=3.0))``), never a head subclass.
"""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS


@MODELS.register_module()
class DummyGeMPool(nn.Module):
    """``logits_c = (mean_hw relu(cam_c) ** p) ** (1 / p)``: p = 1 is GAP of the
    ReLU'd CAM, p -> inf its maximum."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        if p <= 0:
            raise ValueError(f'DummyGeMPool p must be > 0, got {p}')
        self.p, self.eps = float(p), eps

    def forward(self, feats: Tensor, cams: Tensor, classifier: nn.Module) -> Tensor:
        x = F.relu(cams).clamp(min=self.eps).pow(self.p)
        return x.flatten(2).mean(-1).pow(1.0 / self.p)
