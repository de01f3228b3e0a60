"""CARB's online CLIP pseudo mask of the training crop (the "dual path")."""
import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext

__all__ = ['CARBCLIPLabelSource']


@MODELS.register_module()
class CARBCLIPLabelSource(BaseModule):
    """``ctx.pseudo[name]`` = the CLIP mask of the network input, (B, H, W) long.

    The frozen CLIP lives in the branch's :class:`~mmwsss.models.heads.CARBHead`
    (``head.clip_mask``): MaskCLIP features of the whole (augmented, normalised) crop,
    cosine with the text embeddings, masked by the image labels, upsampled to the
    crop, argmax (official ``CARBHead.gen_clip_mask`` on ``img``).

    Args:
        branch: the branch whose decode head is a ``CARBHead``.
        ignore_padding: write 255 on batch padding (``ctx.valid_mask`` False). The
            official crops (512x1024 from images resized to at least 1024x512) are
            never padded, so this changes nothing there; on smaller images it keeps
            the zero padding from being labelled.
        ignore_index: the ignore value.
    """

    def __init__(self,
                 branch: str = 'seg',
                 ignore_padding: bool = True,
                 ignore_index: int = 255,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.branch = branch
        self.ignore_padding = ignore_padding
        self.ignore_index = ignore_index

    @torch.no_grad()
    def forward(self, ctx: TrainContext) -> Tensor:
        head = ctx.require('extras', 'decode_heads').get(self.branch)
        if head is None or not hasattr(head, 'clip_mask'):
            raise KeyError(f"CARBCLIPLabelSource: branch '{self.branch}' has no CARBHead "
                           'decode head')
        label = head.clip_mask(head.clip_image(ctx.inputs), ctx.inputs.shape[-2:], ctx.img_labels)
        if self.ignore_padding and ctx.valid_mask is not None:
            label = label.masked_fill(~ctx.valid_mask.bool(), self.ignore_index)
        return label
