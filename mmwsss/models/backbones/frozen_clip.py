"""A frozen CLIP ViT image tower as a chassis backbone: every block's tokens and attention.

WeCLIP (Zhang et al., CVPR'24) decodes the patch tokens of the first ``L - 1`` blocks of a
frozen CLIP ViT-B/16 (official ``clip/model.py: Transformer.forward(require_all_fts=True)``:
the residual stream after each of blocks 0..10, before ``ln_post``) and refines its online
CLIP-ES CAMs with the same blocks' head-averaged attention maps; the last block runs later,
with autograd, inside the Grad-CAM of the label source.

:class:`FrozenCLIPBackbone` builds on :class:`~mmwsss.models.foundation.OpenCLIP`
(``embed_image`` + ``block_forward``, the manual forward of ``forward_tokens`` that keeps
every block's output) and returns a :class:`~mmwsss.structures.BackboneOutput`:

* ``feats``: ``num_blocks`` patch-token maps (B, D, h, w), block 0 first (what the WeCLIP
  decoder indexes);
* ``cls_tokens``: (B, 1, D) the CLS token after the last block run (with ``feats[-1]`` it
  is the full token sequence the last CLIP block needs for Grad-CAM);
* ``attns``: ``{block: (B, 1, 1 + h*w, 1 + h*w)}`` head-averaged attention (one "head");
* ``grid``: (h, w) = (H // 16, W // 16) (the patch conv truncates).

The CLIP sees whatever the data preprocessor gives it: WeCLIP's official code feeds
ImageNet-normalised pixels (its CLIP normalisation line is commented out); wrap this backbone
in :class:`~mmwsss.models.backbones.Renormalize` to give it CLIP's own statistics instead.
"""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import BackboneOutput


@MODELS.register_module()
class FrozenCLIPBackbone(BaseModule):
    """Frozen CLIP ViT: the tokens and attention maps of its first blocks.

    Args:
        clip: config of the CLIP model (``type='OpenCLIP'``, ``frozen=True``).
        num_blocks: blocks run here (None: all but the last one, WeCLIP's 11 of 12; the
            label source runs the last block itself with autograd for Grad-CAM).
        with_grad: run the blocks with autograd (False: ``torch.no_grad()`` as the official
            ``Transformer.forward``; nothing upstream of the frozen CLIP is trained).
    """

    def __init__(self,
                 clip: dict,
                 num_blocks: Optional[int] = None,
                 with_grad: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.clip = MODELS.build(clip)
        total = self.clip.num_layers
        self.num_blocks = total - 1 if num_blocks is None else int(num_blocks)
        if not 1 <= self.num_blocks <= total:
            raise ValueError(f'num_blocks must be in 1..{total}, got {num_blocks}')
        self.with_grad = with_grad

    @property
    def embed_dim(self) -> int:
        return int(self.clip.clip.visual.transformer.width)

    def forward(self, img: Tensor) -> BackboneOutput:
        """(B, 3, H, W) normalised images -> :class:`BackboneOutput` (see module doc)."""
        blocks = self.clip.clip.visual.transformer.resblocks
        ctx = torch.enable_grad() if self.with_grad else torch.no_grad()
        with ctx:
            x, grid = self.clip.embed_image(img)
            feats: List[Tensor] = []
            attns = {}
            for i, block in enumerate(blocks[:self.num_blocks]):
                x, attn = self.clip.block_forward(block, x)
                b, _, d = x.shape
                feats.append(x[:, 1:].transpose(1, 2).reshape(b, d, *grid))
                attns[i] = attn[:, None]
        return BackboneOutput(feats, cls_tokens=x[:, :1], attns=attns, grid=grid)


def find_frozen_clip(module: torch.nn.Module) -> FrozenCLIPBackbone:
    """The :class:`FrozenCLIPBackbone` inside a branch / backbone (through wrappers such as
    ``Renormalize`` that keep the wrapped backbone as ``.backbone``)."""
    seen = module
    for _ in range(8):
        if isinstance(seen, FrozenCLIPBackbone):
            return seen
        nxt = getattr(seen, 'backbone', None)
        if nxt is None:
            break
        seen = nxt
    raise TypeError(f'no FrozenCLIPBackbone found in {type(module).__name__}')
