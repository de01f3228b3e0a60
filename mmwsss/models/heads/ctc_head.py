"""ToCo's DINO-style projection head for class-token contrast.

Official: ``model/model_seg_neg.py: CTCHead``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS


class _WeightNormLinear(nn.Module):
    """Bias-free linear layer with weight normalisation: ``W = g * v / ||v||`` row-wise.

    Written out instead of ``nn.utils.weight_norm`` (deprecated in recent torch; its
    parametrizations successor renames the parameters). The parameter names and shapes are
    those ``nn.utils.weight_norm(nn.Linear(...))`` creates, ``weight_g`` (out, 1) and
    ``weight_v`` (out, in), so ToCo checkpoints load unchanged.

    Like torch's weight norm, ``||v||`` has no epsilon.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        # v starts as nn.Linear's default weight (kaiming-uniform, a = sqrt(5)): ToCo wraps a
        # fresh nn.Linear AFTER its trunc-normal init pass, so that init never touches it
        v = nn.Linear(in_features, out_features, bias=False).weight.detach().clone()
        self.weight_g = nn.Parameter(v.norm(dim=1, keepdim=True))
        self.weight_v = nn.Parameter(v)

    @property
    def weight(self) -> Tensor:
        """(out, in) effective weight."""
        return self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight)


@MODELS.register_module()
class CTCHead(nn.Module):
    """DINO projection head: MLP -> L2-normalise -> weight-normalised linear.

    ``in_dim -> hidden_dim -> ... -> bottleneck_dim`` (Linear + GELU between layers, ``nlayers``
    Linear layers; ToCo: 768 -> 2048 -> 2048 -> 256), L2-normalise along the feature dim, then a
    bias-free weight-normalised ``Linear(bottleneck_dim -> out_dim)`` (ToCo: 1024; the class
    default of 4096 is never used). With ``norm_last_layer`` the magnitude ``g`` is filled with
    1 and frozen, so every output is a cosine between the normalised bottleneck and a row of
    ``v`` (each in [-1, 1]).

    Init, as ToCo: MLP Linear weights ``trunc_normal_(std=0.02)`` (torch's default cut-offs
    a=-2, b=2 are absolute, i.e. 100 std: effectively untruncated), biases 0; the last layer
    keeps nn.Linear's default init (see :class:`_WeightNormLinear`). Initialised in the
    constructor like the official module, so no ``init_weights`` call is needed.

    ToCo's teacher ``proj_head_t`` is a second instance loaded with this one's state and then
    EMA-updated (momentum 0.9); that lives with the segmentor, not here.

    Args:
        in_dim: input feature dim (ViT-B: 768).
        out_dim: output dim (ToCo: 1024).
        norm_last_layer: fix the weight-norm magnitude at 1 (no gradient).
        nlayers: number of MLP Linear layers (>= 1).
        hidden_dim: MLP hidden width.
        bottleneck_dim: MLP output width.

    Shapes: (N, in_dim) -> (N, out_dim).
    """

    def __init__(self,
                 in_dim: int,
                 out_dim: int = 1024,
                 norm_last_layer: bool = True,
                 nlayers: int = 3,
                 hidden_dim: int = 2048,
                 bottleneck_dim: int = 256) -> None:
        super().__init__()
        nlayers = max(nlayers, 1)
        if nlayers == 1:
            self.mlp = nn.Linear(in_dim, bottleneck_dim)
        else:
            layers = [nn.Linear(in_dim, hidden_dim), nn.GELU()]
            for _ in range(nlayers - 2):
                layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
            layers.append(nn.Linear(hidden_dim, bottleneck_dim))
            self.mlp = nn.Sequential(*layers)
        for mod in self.mlp.modules():
            if isinstance(mod, nn.Linear):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                nn.init.constant_(mod.bias, 0)
        self.last_layer = _WeightNormLinear(bottleneck_dim, out_dim)
        with torch.no_grad():
            self.last_layer.weight_g.fill_(1)
        if norm_last_layer:
            self.last_layer.weight_g.requires_grad = False

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_dim) -> (N, out_dim)."""
        x = self.mlp(x)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)
