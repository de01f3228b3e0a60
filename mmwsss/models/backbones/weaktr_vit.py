"""A TokenViT that also returns every block's attention-module output (WeakTr's AAF).

WeakTr (Zhu et al., hustvl/WeakTr) weights the L x H attention maps of a multi-class-token
DeiT with an Adaptive Attention Fusion module whose per-head weights come from the
attention *outputs* of the blocks: ``o = proj(softmax(q k^T) v)``, the tensor a block adds
to its residual stream (before drop-path / layer scale). :class:`TokenViT` returns the
attention maps (``attn_blocks``) but not these outputs, so :class:`AttnOutTokenViT` hooks
the attention module of the chosen blocks for one forward and attaches the outputs to the
returned :class:`~mmwsss.structures.BackboneOutput` as ``attn_outs``:
``{block_index: (B, N, D)}`` with N = prefix tokens + h*w (prefix tokens first).

``attn_outs`` is an extra attribute of that output object (the structure's fields are
shared by every method and unchanged); ``BackboneOutput.replace`` (a neck) drops it, so a
head that reads it must read the backbone output itself (``WSSSBranch`` CAM heads do).
"""
from typing import Dict, Optional, Sequence

from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures.backbone_output import BackboneOutput
from .token_vit import TokenViT


@MODELS.register_module()
class AttnOutTokenViT(TokenViT):
    """:class:`TokenViT` + the attention-module outputs of ``attn_out_blocks``.

    Args:
        attn_out_blocks: blocks whose attention output (B, N, D) is returned in
            ``out.attn_outs[block]`` (non-negative indices; negative count from the end).
            ``None``: the same blocks as ``attn_blocks``.
        **kwargs: :class:`TokenViT` arguments.
    """

    def __init__(self, attn_out_blocks: Optional[Sequence[int]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        depth = self.num_blocks
        blocks = self.attn_blocks if attn_out_blocks is None else attn_out_blocks
        self.attn_out_blocks = sorted(
            {self._block_index(b, depth, f'attn_out_blocks[{i}]')
             for i, b in enumerate(blocks)})

    def _attn_module(self, index: int) -> nn.Module:
        block = self._adapter.blocks(self.vit)[index]
        attn = getattr(block, 'attn', None)
        if attn is None:
            raise TypeError(f'AttnOutTokenViT: block {index} ({type(block).__name__}) has no '
                            "'attn' sub-module")
        return attn

    def forward(self, img: Tensor) -> BackboneOutput:
        """(B, 3, H, W) -> BackboneOutput with ``attn_outs`` {block: (B, N, D)}."""
        outs: Dict[int, Tensor] = {}

        def store(idx: int):

            def hook(module, args, output) -> None:
                # timm / mmpretrain attention returns a tensor; torch's MultiheadAttention
                # (open_clip) a tuple (output, weights)
                outs[idx] = output[0] if isinstance(output, tuple) else output

            return hook

        handles = [
            self._attn_module(i).register_forward_hook(store(i)) for i in self.attn_out_blocks
        ]
        try:
            out = super().forward(img)
        finally:
            for h in handles:
                h.remove()
        out.attn_outs = outs
        return out
