"""PPC's head: SEAM's fc8 + PCM head with the projection ``f_proj`` beside fc8.

usr922/wseg ``network/resnet38_contrast.py: Net.forward``: ``fea = dropout7(conv6)`` (ONE
Dropout2d(0.5) mask), ``cam = fc8(fea)``, ``f_proj = relu(fc_proj(fea))`` with ``fc_proj`` a
1x1 conv 4096 -> 128 without bias (xavier-uniform, a from-scratch layer: x10 lr); PCM as
SEAM's; the forward also returns the refined CAM on the feature grid (``cam_rv_down``),
which the contrast reads.
"""
from typing import Dict, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from .pcm import PCMCAMHead, pcm_propagate, seam_cam_norm


@MODELS.register_module()
class PPCCAMHead(PCMCAMHead):
    """:class:`PCMCAMHead` + PPC's projection head.

    Args:
        proj_channels: the projection width (128).
        **kwargs: :class:`PCMCAMHead`'s arguments (``with_prcm`` must stay False: PPC is
            on SEAM's PCM).

    ``forward_parts`` adds ``proj`` (N, D, h, w) = ``relu(fc_proj(dropout(feat)))``, which
    shares the dropout mask with fc8 as the official, and ``cam_rv_lowres``
    (N, 1 + C, h, w), the PCM-refined CAM before its upsampling. ``forward`` (inference)
    is :class:`PCMCAMHead`'s.
    """

    def __init__(self, proj_channels: int = 128, **kwargs) -> None:
        if kwargs.get('with_prcm', False):
            raise ValueError('PPCCAMHead is SEAM + PPC: with_prcm is not supported')
        super().__init__(**kwargs)
        self.fc_proj = nn.Conv2d(self.fc8.in_channels, proj_channels, 1, bias=False)
        nn.init.xavier_uniform_(self.fc_proj.weight)

    def forward_parts(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """:meth:`PCMCAMHead.forward_parts` + ``proj`` and ``cam_rv_lowres``.

        Args:
            feats: the backbone maps followed by the input image (N, 3, H, W).
        Returns:
            ``cam``, ``cam_rv`` (N, 1 + C, H, W); ``logits`` (N, C); ``cam_lowres``,
            ``cam_rv_lowres`` (N, 1 + C, h, w); ``proj`` (N, D, h, w).
        """
        img = feats[self.img_index]
        x = self.dropout(feats[self.cam_index])
        cam = self.fc8(x)
        proj = F.relu(self.fc_proj(x))
        refined = pcm_propagate(
            seam_cam_norm(cam), self.f9(self.pcm_features(feats, cam.shape[-2:])))
        size = img.shape[-2:]
        cam_rv = F.interpolate(refined, size, mode='bilinear', align_corners=True)
        cam_up = F.interpolate(cam, size, mode='bilinear', align_corners=True)
        return dict(
            cam=cam_up,
            cam_rv=cam_rv,
            logits=cam_up.mean((2, 3))[:, 1:],
            cam_lowres=cam,
            cam_rv_lowres=refined,
            proj=proj)
