"""SEAM's PCM and CPN's PRCM: a CAM head whose CAM is refined by a pixel affinity.

SEAM (``network/resnet38_SEAM.py: Net.forward, Net.PCM``) and CPN
(``network/resnet38_CPN.py: Net.forward, Net.PCM, Net.PRCM``,
``network/da_atten.py: SpatialGather_Module``) put on the ResNet-38 trunk

* ``fc8``: Dropout2d(0.5) then a 1x1 conv 4096 -> 1 + C without bias: the raw CAM
  (channel 0 is a background channel the classifier never trains);
* PCM: the raw CAM, normalised without gradient (:func:`seam_cam_norm`), propagated by
  the affinity of ``f9([x resized, relu(f8_3(conv4.detach())), relu(f8_4(conv5.detach()))])``
  (:func:`pcm_propagate`);
* CPN only, PRCM: class prototypes of the same features (:func:`spatial_gather`), a
  prototype-to-pixel attention (:func:`prcm_attention`) that multiplies the normalised
  CAM and is added to PCM's output.

Both maps are upsampled to the input size (bilinear, ``align_corners=True``) and the image
logits are the GAP of the upsampled raw CAM, fg channels only. The head reads the backbone
output followed by the input image (:class:`~mmwsss.models.backbones.AppendInput`).
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS


@torch.no_grad()
def seam_cam_norm(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """``cam_d_norm`` of SEAM/CPN ``Net.forward`` (no gradient).

    ``relu(relu(cam) - eps) / (max_hw relu(cam) + eps)``; channel 0 is replaced by
    ``1 - max_fg``; then every fg value below its pixel's fg maximum is zeroed (ties kept).

    Args:
        cam: (N, 1 + C, h, w) raw CAM on the feature grid.
    Returns:
        (N, 1 + C, h, w), detached.
    """
    cam_d = F.relu(cam.detach())
    cam_max = cam_d.flatten(2).max(-1)[0][..., None, None] + eps
    norm = F.relu(cam_d - eps) / cam_max
    fg = norm[:, 1:]
    fg_max = fg.max(1, keepdim=True)[0]
    return torch.cat([1 - fg_max, fg.masked_fill(fg < fg_max, 0)], 1)


def pcm_propagate(cam: Tensor, proj: Tensor, eps: float = 1e-5) -> Tensor:
    """``Net.PCM`` after its ``f9``: ``cam_rv = cam @ colnorm(relu(f^T f))``.

    Args:
        cam: (N, K, h', w') normalised CAM, bilinearly resized (``align_corners=True``)
            to the grid of ``proj`` (a no-op when it is already there, as in SEAM/CPN).
        proj: (N, D, h, w) ``f9(f)`` (no ReLU in PCM).
    Returns:
        (N, K, h, w): ``f`` is L2-normalised over channels (``+ eps``), the affinity
        ``relu(f^T f)`` (hw x hw) is normalised over its first index (columns sum to 1,
        ``+ eps``) and ``cam_rv[:, :, j] = sum_i cam[:, :, i] aff[i, j]``.
    """
    n, _, h, w = proj.shape
    cam = F.interpolate(cam, (h, w), mode='bilinear', align_corners=True).reshape(n, -1, h * w)
    f = proj.reshape(n, -1, h * w)
    f = f / (torch.norm(f, dim=1, keepdim=True) + eps)
    aff = F.relu(torch.matmul(f.transpose(1, 2), f))
    aff = aff / (aff.sum(1, keepdim=True) + eps)
    return torch.matmul(cam, aff).reshape(n, -1, h, w)


def spatial_gather(feats: Tensor, probs: Tensor, scale: float = 1.0) -> Tensor:
    """CPN's ``SpatialGather_Module``: per-map softmax over pixels, weighted sum of features.

    Args:
        feats: (N, D, h, w); probs: (N, K, h', w'), bilinearly resized to (h, w)
            (``align_corners=True``).
    Returns:
        (N, D, K, 1) context: ``ctx[:, d, k] = sum_i softmax_i(scale * probs_k)_i feats_d,i``.
    """
    n, d, h, w = feats.shape
    probs = F.interpolate(probs, (h, w), mode='bilinear', align_corners=True)
    probs = F.softmax(scale * probs.reshape(n, probs.shape[1], -1), dim=2)
    ctx = torch.matmul(probs, feats.reshape(n, d, -1).permute(0, 2, 1))  # (N, K, D)
    return ctx.permute(0, 2, 1).unsqueeze(3)


def prcm_attention(key_proj: Tensor, value_proj: Tensor) -> Tensor:
    """``Net.PRCM`` after its convs: a softmax over pixels of prototype-pixel similarities.

    Args:
        key_proj: (N, D, K, 1) ``f10(spatial_gather(f, cam))`` before its ReLU.
        value_proj: (N, D, h, w) ``f9(f)`` before its ReLU (f9 is shared with PCM).
    Returns:
        (N, K, h, w). As the official code, the keys are ``relu(key_proj).view(n, K, -1)``:
        a RAW reshape of the (D, K) block into (K, D), not a transpose, so one "key" row
        mixes several prototypes' channels; the similarity is scaled by ``K ** -0.5``
        (21 ** -0.5 for VOC) and soft-maxed over the h*w pixels.
    """
    n, _, h, w = value_proj.shape
    k = key_proj.shape[2]
    key = F.relu(key_proj).reshape(n, k, -1)
    value = F.relu(value_proj).reshape(n, -1, h * w)
    sim = (k**-.5) * torch.matmul(key, value)
    return F.softmax(sim, dim=-1).reshape(n, -1, h, w)


@MODELS.register_module()
class PCMCAMHead(BaseModule):
    """fc8 CAM + PCM (SEAM), + PRCM with ``with_prcm=True`` (CPN).

    Args:
        in_channels: channels of the CAM feature (ResNet-38 conv6: 4096).
        pcm_in_channels: channels of the two PCM features (conv4, conv5: 512, 1024).
        pcm_channels: their 1x1 projections f8_3, f8_4 (64, 128); f9 (and CPN's f10) map
            3 + sum of them to their sum (195 -> 192).
        num_classes: C foreground classes (the CAM has 1 + C channels).
        cam_index: index of the CAM feature in the head input.
        pcm_indices: indices of the two PCM features.
        img_index: index of the input image (-1 with ``AppendInput``).
        dropout_ratio: Dropout2d before fc8 (0.5).
        with_prcm: add CPN's PRCM.

    ``forward_parts(feats)`` returns every map a training loss needs (``cam``, ``cam_rv``:
    (N, 1 + C, H, W) at the input size; ``logits`` (N, C)); ``forward(feats)`` returns
    ``(logits, cam_rv[:, 1:])``, the refined fg CAM SEAM and CPN infer with, which is what
    the segmentor's ``cam_fn`` (test-time CAMs) gives.
    """

    def __init__(self,
                 in_channels: int = 4096,
                 pcm_in_channels: Sequence[int] = (512, 1024),
                 pcm_channels: Sequence[int] = (64, 128),
                 num_classes: int = 20,
                 cam_index: int = -2,
                 pcm_indices: Sequence[int] = (0, 1),
                 img_index: int = -1,
                 dropout_ratio: float = 0.5,
                 with_prcm: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if len(pcm_in_channels) != 2 or len(pcm_channels) != 2 or len(pcm_indices) != 2:
            raise ValueError('PCM reads exactly two feature maps (conv4, conv5)')
        self.num_classes = num_classes
        self.cam_index, self.img_index = cam_index, img_index
        self.pcm_indices = tuple(pcm_indices)
        self.with_prcm = with_prcm
        self.dropout = nn.Dropout2d(dropout_ratio)
        self.fc8 = nn.Conv2d(in_channels, num_classes + 1, 1, bias=False)
        self.f8_3 = nn.Conv2d(pcm_in_channels[0], pcm_channels[0], 1, bias=False)
        self.f8_4 = nn.Conv2d(pcm_in_channels[1], pcm_channels[1], 1, bias=False)
        dim = sum(pcm_channels)
        self.f9 = nn.Conv2d(dim + 3, dim, 1, bias=False)
        # the official initialisation (in the constructor, as there)
        nn.init.xavier_uniform_(self.fc8.weight)
        nn.init.kaiming_normal_(self.f8_3.weight)
        nn.init.kaiming_normal_(self.f8_4.weight)
        nn.init.xavier_uniform_(self.f9.weight, gain=4)
        if with_prcm:
            self.f10 = nn.Conv2d(dim + 3, dim, 1, bias=False)
            nn.init.xavier_uniform_(self.f10.weight, gain=4)

    def pcm_features(self, feats: Sequence[Tensor], size: Tuple[int, int]) -> Tensor:
        """``f = cat([x resized, relu(f8_3(conv4.detach())), relu(f8_4(conv5.detach()))])``
        on the CAM grid ``size``: (N, 3 + 192, h, w)."""
        c4, c5 = (feats[i] for i in self.pcm_indices)
        x = F.interpolate(feats[self.img_index], size, mode='bilinear', align_corners=True)
        return torch.cat([x, F.relu(self.f8_3(c4.detach())), F.relu(self.f8_4(c5.detach()))], 1)

    def forward_parts(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Raw CAM, refined CAM (both at the input size) and the image logits.

        Args:
            feats: the backbone maps followed by the input image (N, 3, H, W).
        Returns:
            ``cam``, ``cam_rv``: (N, 1 + C, H, W); ``logits``: (N, C) = GAP(cam)[:, 1:];
            ``cam_lowres``: the raw CAM on the feature grid (N, 1 + C, h, w).
        """
        img = feats[self.img_index]
        cam = self.fc8(self.dropout(feats[self.cam_index]))
        norm = seam_cam_norm(cam)
        f = self.pcm_features(feats, cam.shape[-2:])
        proj = self.f9(f)
        refined = pcm_propagate(norm, proj)
        if self.with_prcm:
            attn = prcm_attention(self.f10(spatial_gather(f, norm)), proj)
            refined = refined + attn * norm
        size = img.shape[-2:]
        cam_rv = F.interpolate(refined, size, mode='bilinear', align_corners=True)
        cam_up = F.interpolate(cam, size, mode='bilinear', align_corners=True)
        return dict(cam=cam_up, cam_rv=cam_rv, logits=cam_up.mean((2, 3))[:, 1:], cam_lowres=cam)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(logits (N, C), cam_rv[:, 1:] (N, C, H, W))``: the CAM SEAM/CPN infer with."""
        out = self.forward_parts(feats)
        return out['logits'], out['cam_rv'][:, 1:]
