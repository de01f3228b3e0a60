"""A frozen image encoder as a config part: images (N, 3, H, W) in [0, 1] -> (N, D).

PBIP passes its fg / bg images through MedCLIP's vision model (``MedCLIPVisionModelViT``:
a Swin-T, its 768-d pooled output, then ``projection_head = Linear(768, 512,
bias=False)``), frozen, with gradient flowing to the INPUT (the CAM that made the
image). Here the backbone is any timm model (``model_name``), optionally followed by a
bias-free projection, loaded from a user-supplied checkpoint:

* PBIP / MedCLIP: ``model_name='swin_tiny_patch4_window7_224', proj_dim=512`` and the
  MedCLIP vision weights converted to this module's keys (``backbone.*``,
  ``projection.weight``) by the user; the tests build it with random weights.
* CPU config: ``model_name='vit_small_patch14_dinov2'`` with the DINOv2 ViT-S/14
  checkpoint shipped in checkpoints/ (keys ``vit.*``, ``prefix='vit.'``), 384-d CLS output.

PBIP feeds the min-max normalised [0, 1] images unnormalised (``mean=None``); a model
trained on ImageNet statistics gets ``mean/std`` (applied here, on [0, 1]).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS


@MODELS.register_module()
class FrozenImageEncoder(BaseModule):
    """Frozen timm encoder (+ optional bias-free projection), always in eval mode.

    Args:
        model_name: timm model; created with ``num_classes=0`` (pooled features).
        proj_dim: None, or the output size of a ``Linear(bias=False)`` projection.
        input_size: images are resized (bilinear) to this side first; None keeps them.
        mean, std: per-channel statistics on [0, 1] applied to the input; None: none.
        checkpoint: a state dict file (``torch.load(weights_only=True)``; a
            ``state_dict`` key is unwrapped), keys under ``prefix`` mapped to the backbone.
            None: random weights (tests).
        prefix: checkpoint key prefix of the backbone weights (``'vit.'``, ``'backbone.'``).
        model_kwargs: extra ``timm.create_model`` arguments (e.g. ``dynamic_img_size``).
    """

    def __init__(self,
                 model_name: str = 'swin_tiny_patch4_window7_224',
                 proj_dim: Optional[int] = 512,
                 input_size: Optional[int] = 224,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 checkpoint: Optional[str] = None,
                 prefix: str = 'backbone.',
                 model_kwargs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import timm
        self.backbone = timm.create_model(
            model_name, pretrained=False, num_classes=0, **(model_kwargs or {}))
        feat_dim = self.backbone.num_features
        self.projection = nn.Linear(feat_dim, proj_dim, bias=False) if proj_dim else None
        self.out_dim = proj_dim or feat_dim
        self.input_size = input_size
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        if mean is not None:
            self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        else:
            self.mean = self.std = None
        if checkpoint is not None:
            self.load_weights(checkpoint, prefix)
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def load_weights(self, path: str, prefix: str) -> None:
        """Load ``path``; every backbone key must be found (errors name the file)."""
        state = torch.load(path, map_location='cpu', weights_only=True)
        state = state.get('state_dict', state)
        bb = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not bb:
            raise KeyError(f'{path}: no key starts with {prefix!r}; keys look like '
                           f'{list(state)[:3]}')
        missing, _ = self.backbone.load_state_dict(bb, strict=False)
        if missing:
            raise KeyError(f'{path}: the encoder weights miss {len(missing)} keys, e.g. '
                           f'{missing[:5]}')
        if self.projection is not None:
            if 'projection.weight' not in state:
                raise KeyError(f'{path}: no projection.weight for the {self.out_dim}-d '
                               'projection')
            self.projection.weight.data.copy_(state['projection.weight'])

    def init_weights(self) -> None:
        # weights come from ``checkpoint`` only; mmengine's init must not touch them
        pass

    def train(self, mode: bool = True) -> 'FrozenImageEncoder':
        # frozen: dropout / BN stay in eval mode whatever the parent model does
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) in [0, 1] -> (N, D); differentiable w.r.t. ``images``."""
        x = images
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size, ) * 2:
            x = F.interpolate(
                x, (self.input_size, self.input_size), mode='bilinear', align_corners=False)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        out = self.backbone(x)
        return self.projection(out) if self.projection is not None else out
