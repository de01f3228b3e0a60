"""Log-sum-exp pooled CAM head (example project component)."""
import math

import torch
from torch import Tensor

from mmwsss.models.heads import CAMHead
from mmwsss.registry import MODELS


@MODELS.register_module()
class DummyLSEPoolCAMHead(CAMHead):
    """logits_c = (1 / r) * log(mean_hw exp(r * cam_c)); r -> 0 is GAP, r -> inf GMP."""

    def __init__(self, r: float = 5.0, **kwargs) -> None:
        kwargs['pool'] = 'gap'  # unused by forward(); the CAM itself is unchanged
        super().__init__(**kwargs)
        self.r = r

    def forward(self, inputs) -> Tensor:
        cams = self.forward_cam(inputs).flatten(2)  # (B, C, h*w)
        lse = torch.logsumexp(self.r * cams, dim=-1) - math.log(cams.shape[-1])
        return lse / self.r
