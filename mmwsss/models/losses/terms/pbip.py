"""PBIP's image-prompt matching (QingchenTang/PBIP ``train_stage_1.py``,
``utils/fgbg_feature.py``, ``utils/contrast_loss.py``, ``utils/hierarchical_utils.py``).

For every ACTIVE (image, sub-class) pair (:func:`active_subclasses`), the last stage's
sub-class CAM cuts the image into a foreground and a background image, both go through a
frozen image encoder, and two InfoNCE terms pull the foreground feature to the pair's
sub-class prototype and push the background feature away from it. The formulas are plain
tensor functions below; :class:`PBIPMatchingTerm` wires them to the chassis.
"""
import math
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures.train_context import TrainContext
from ...heads.pbip_head import active_subclasses
from .base import LossTerm


def dynamic_threshold_mask(cams: Tensor, alpha: float = 0.5) -> Tensor:
    """``MaskAdapter_DynamicThreshold``: 1 where ``cam >= alpha * max``.

    The max is taken per IMAGE over ALL its sub-class channels and pixels (the official
    loop ``th = torch.max(x[i]) * alpha`` over the batch index), not per channel.

    Args:
        cams: (B, K, H, W).
    Returns:
        (B, K, H, W) float 0/1.
    """
    th = cams.flatten(1).max(1).values.view(-1, 1, 1, 1) * alpha
    return (cams >= th).to(cams.dtype)


def _minmax(x: Tensor, eps: float = 1e-8) -> Tensor:
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    return (x - lo) / (hi - lo + eps)


def fg_bg_images(inputs: Tensor,
                 cams: Tensor,
                 active: Tensor,
                 alpha: float = 0.5,
                 size: int = 224) -> Tuple[Tensor, Tensor, Tensor]:
    """The foreground / background images of the active pairs (``FeatureExtractor``).

    cam (bilinear to ``size``, align_corners=False) -> binary mask
    (:func:`dynamic_threshold_mask`); fg = cam * img, bg = (1 - cam) * img, each min-max
    normalised per channel over its pixels (+1e-8), times the mask (fg) or 1 - mask (bg).
    The gradient reaches ``cams`` through the soft products (the masks are constants).

    Args:
        inputs: (B, 3, H, W) the network input (normalised); resized to ``size`` when it
            is not (the official code assumes H = W = size).
        cams: (B, K, h, w) raw sub-class CAMs.
        active: (B, K) 0/1; pairs are taken in ``torch.where`` order (image-major).
    Returns:
        fg (N, 3, size, size), bg (N, 3, size, size), cls (N,) the sub-class index.
    """
    cam = F.interpolate(cams, (size, size), mode='bilinear', align_corners=False)
    mask = dynamic_threshold_mask(cam, alpha)
    b_idx, k_idx = torch.where(active == 1)
    img = inputs
    if tuple(img.shape[-2:]) != (size, size):
        img = F.interpolate(img, (size, size), mode='bilinear', align_corners=False)
    img = img[b_idx]
    c = cam[b_idx, k_idx].unsqueeze(1)
    m = mask[b_idx, k_idx].unsqueeze(1)
    fg = _minmax(c * img) * m
    bg = _minmax((1 - c) * img) * (1 - m)
    return fg, bg, k_idx


def infonce_fg(fg_feats: Tensor, protos: Tensor, cls: Tensor, temperature: float = 0.07) -> Tensor:
    """``InfoNCELossFG`` as a ratio of sums over the batch (not a mean of logs)::

        L = -log( sum_i e^{f_i.p_{c_i}/t} / sum_i [e^{f_i.p_{c_i}/t} + sum_{l!=c_i} e^{f_i.p_l/t}] )

    with f_i L2-normalised and the prototypes as given (the official code does not
    normalise them; they are unit centres).

    Args:
        fg_feats: (N, D) encoder features; protos: (K, D); cls: (N,) positive index.
    Returns:
        scalar. Computed with logsumexp (the same value, no overflow).
    """
    s = F.normalize(fg_feats, dim=-1) @ protos.t() / temperature  # (N, K)
    pos = s.gather(1, cls.view(-1, 1)).squeeze(1)
    # the denominator of pair i is ALL K prototypes: its positive plus its K-1 negatives
    return torch.logsumexp(s.flatten(), 0) - torch.logsumexp(pos, 0)


def infonce_bg(bg_feats: Tensor, protos: Tensor, cls: Tensor, temperature: float = 0.07) -> Tensor:
    """``InfoNCELossBG``: the background feature should match the OTHER prototypes::

        L = -log( sum_i mean_{l!=c_i} e^{b_i.p_l/t}
                  / sum_i [mean_{l!=c_i} e^{b_i.p_l/t} + e^{b_i.p_{c_i}/t}] )

    Args / returns as :func:`infonce_fg` (K >= 2).
    """
    s = F.normalize(bg_feats, dim=-1) @ protos.t() / temperature  # (N, K)
    k = s.shape[1]
    own = torch.zeros_like(s, dtype=torch.bool).scatter_(1, cls.view(-1, 1), True)
    pos_own = s.gather(1, cls.view(-1, 1)).squeeze(1)
    others = torch.logsumexp(s.masked_fill(own, float('-inf')), 1) - math.log(k - 1)
    num = torch.logsumexp(others, 0)
    den = torch.logsumexp(torch.logaddexp(others, pos_own), 0)
    return den - num


@MODELS.register_module()
class PBIPMatchingTerm(LossTerm):
    """PBIP's ``fg_loss + bg_loss + 0.0005 * mean(cam4)``, all times ``weight`` (l5 = 0.1).

    Args:
        cam: the last-stage CAM head (a :class:`PBIPSubclassHead`; its logits give the
            active sub-classes, its bank the prototypes).
        encoder: the frozen image encoder config (:class:`FrozenImageEncoder`).
        alpha: mask adapter threshold ratio (0.5).
        temperature: InfoNCE tau (0.07).
        cam_reg: factor of ``mean(cam)`` (0.0005).
        size: side of the encoder images (224, the official ``clip_size``).
        merge: parent merge of the active rule (``merge_train``, 'mean').

    Returns ``loss_fg``, ``loss_bg``, ``loss_cam`` and ``num_pairs`` (logged). A batch
    without an active pair gives zero fg / bg losses (the official code would fail).
    """

    loss_keys = ('loss_fg', 'loss_bg', 'loss_cam')

    def __init__(self,
                 name: str = 'match',
                 cam: str = 'cam4',
                 encoder: dict = dict(type='FrozenImageEncoder'),
                 alpha: float = 0.5,
                 temperature: float = 0.07,
                 cam_reg: float = 0.0005,
                 size: int = 224,
                 merge: str = 'mean',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.cam = cam
        self.encoder = MODELS.build(encoder)
        self.alpha = alpha
        self.temperature = temperature
        self.cam_reg = cam_reg
        self.size = size
        self.merge = merge

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        logits = ctx.require('logits', self.cam)
        cams = ctx.require('cams', self.cam)
        head = ctx.extras['cam_heads'][self.cam]
        protos = head.prototypes().to(cams.dtype)
        with torch.no_grad():
            active = active_subclasses(logits, ctx.img_labels, head.k_list, self.merge)
        out = {'loss_cam': self.cam_reg * cams.mean()}
        n = int(active.sum())
        if n == 0:
            zero = cams.sum() * 0
            out.update(loss_fg=zero, loss_bg=zero)
        else:
            fg, bg, cls = fg_bg_images(ctx.inputs, cams, active, self.alpha, self.size)
            feats = self.encoder(torch.cat([fg, bg]))
            out['loss_fg'] = infonce_fg(feats[:n], protos, cls, self.temperature)
            out['loss_bg'] = infonce_bg(feats[n:], protos, cls, self.temperature)
        out['num_pairs'] = cams.new_tensor(float(n))
        return out


def subclass_pairs(active: Tensor) -> Sequence[Tuple[int, int]]:
    """(image, sub-class) of every active pair, in the order the losses see them."""
    return [tuple(p) for p in torch.nonzero(active == 1).tolist()]
