"""CARB's training objective: global-local CLIP-mask supervision, then region balancing.

Official ``CARBHead.losses`` (k0u-id/CARB). The formulas are the plain functions of
:mod:`mmwsss.models.losses.carb_loss`; this term wires them to the training context.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...heads.carb_head import self_pseudo_mask
from ..carb_loss import (carb_balance_coefficient, carb_patch_box, carb_patch_region_labels,
                         carb_patch_scale, carb_region_labels, masked_ce)
from .base import LossTerm


@MODELS.register_module()
class CARBTerm(LossTerm):
    """CARB's loss on the CLIP mask of the crop and of one random local patch.

    Every step: the seg logits are upsampled (bilinear) to the crop; a patch of
    ``patch_size`` at a random position (one per batch) is cut from the CLIP input,
    resized by ``m = resize_rate * U[0, 1) + resize_offset`` and given its own CLIP mask
    (computed at the resized size, scored back at the patch size); the matching slice
    of the upsampled logits is the patch prediction.

    * Warm-up (counter ``iter + 1 <= warmup_iter``, the official ``_iter_counter``):
      ``loss_full = CE(seg, M)``, ``loss_patch = CE(seg_patch, M_patch)``.
    * CARB: ``loss_full = L_and + c L_vit``, ``loss_patch = L_partand + c L_partdif``
      (:func:`~mmwsss.models.losses.carb_loss.carb_total_loss` split in two keys;
      ``l_and``, ``l_vit`` and ``coeff`` are logged only); ``c`` from the queues of the last
      ``queue_size`` "and"/"vit" losses (``adaptive``) or the fixed ``coeff``.

    Args:
        branch: branch with a :class:`~mmwsss.models.heads.CARBHead`.
        label: the label source of the crop's CLIP mask (``CARBCLIPLabelSource``).
        patch_size: (h, w) of the local patch (official (512, 256) of a 512x1024 crop).
        resize_rate / resize_offset: the patch magnification (official 1, 1: U[1, 2)).
        warmup_iter: iterations of plain CLIP-mask training (official 16000 of 30000);
            None: never switch.
        adaptive: the queue-based coefficient (official True); False: ``coeff`` fixed
            (the official config's commented alternative is 0.03).
        queue_size: length of the loss queues (5).
        coeff: the factor of the ratio (1).
        ignore_padding: ignore the patch label on batch padding (see
            ``CARBCLIPLabelSource``).
        empty: :func:`masked_ce` on an all-ignored region ('zero'; 'nan' = official).
        ignore_index: 255.
    """
    loss_keys = ('loss_full', 'loss_patch')

    def __init__(self,
                 name: str = 'carb',
                 branch: str = 'seg',
                 label: str = 'clip',
                 patch_size: Sequence[int] = (512, 256),
                 resize_rate: float = 1.0,
                 resize_offset: float = 1.0,
                 warmup_iter: Optional[int] = 16000,
                 adaptive: bool = True,
                 queue_size: int = 5,
                 coeff: float = 1.0,
                 ignore_padding: bool = True,
                 empty: str = 'zero',
                 ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch = branch
        self.label = label
        self.patch_size = (int(patch_size[0]), int(patch_size[1]))
        self.resize_rate = float(resize_rate)
        self.resize_offset = float(resize_offset)
        self.warmup_iter = warmup_iter
        self.adaptive = adaptive
        self.queue_size = int(queue_size)
        self.coeff = float(coeff)
        self.ignore_padding = ignore_padding
        self.empty = empty
        self.ignore_index = ignore_index
        # the official per-head queues (zeros until written), kept in checkpoints
        self.register_buffer('and_losses', torch.zeros(self.queue_size))
        self.register_buffer('vit_losses', torch.zeros(self.queue_size))

    def _head(self, ctx: TrainContext):
        head = ctx.require('extras', 'decode_heads').get(self.branch)
        if head is None or not hasattr(head, 'clip_mask'):
            raise KeyError(f"CARBTerm: branch '{self.branch}' has no CARBHead decode head")
        return head

    def _ce(self, logits: Tensor, label: Tensor) -> Tensor:
        return masked_ce(logits, label, self.ignore_index, self.empty)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        head = self._head(ctx)
        clip_label = ctx.require('pseudo', self.label)
        seg = ctx.require('branches', self.branch).seg_logits
        height, width = clip_label.shape[-2:]
        seg = F.interpolate(
            seg.float(), size=(height, width), mode='bilinear', align_corners=head.align_corners)
        ph, pw = self.patch_size
        hpos, wpos = carb_patch_box(height, width, self.patch_size)
        scale = carb_patch_scale(self.resize_rate, self.resize_offset)
        box = (slice(None), slice(hpos, hpos + ph), slice(wpos, wpos + pw))
        with torch.no_grad():
            patch_img = head.clip_image(ctx.inputs)[:, :, hpos:hpos + ph, wpos:wpos + pw]
            patch_img = F.interpolate(
                patch_img,
                size=(int(ph * scale), int(pw * scale)),
                mode='bilinear',
                align_corners=False)
            patch_label = head.clip_mask(patch_img, (ph, pw), ctx.img_labels)
            if self.ignore_padding and ctx.valid_mask is not None:
                patch_label = patch_label.masked_fill(~ctx.valid_mask[box].bool(),
                                                      self.ignore_index)
        patch_logit = seg[:, :, hpos:hpos + ph, wpos:wpos + pw]
        counter = int(ctx.iter) + 1
        if self.warmup_iter is None or counter <= self.warmup_iter:
            return dict(
                loss_full=self._ce(seg, clip_label), loss_patch=self._ce(patch_logit, patch_label))
        with torch.no_grad():
            self_label = self_pseudo_mask(seg, head.full_labels(ctx.img_labels), head.label_mask)
            label_and, label_vit = carb_region_labels(clip_label, self_label, self.ignore_index)
            part_and, part_dif = carb_patch_region_labels(patch_label, self_label[box],
                                                          self.ignore_index)
        loss_and = self._ce(seg, label_and)
        loss_vit = self._ce(seg, label_vit)
        loss_partand = self._ce(patch_logit, part_and)
        loss_partdif = self._ce(patch_logit, part_dif)
        with torch.no_grad():
            if self.adaptive:
                slot = counter % self.queue_size
                self.and_losses[slot] = loss_and.detach()
                self.vit_losses[slot] = loss_vit.detach()
                coefficient = carb_balance_coefficient(self.and_losses, self.vit_losses, self.coeff)
            else:
                coefficient = loss_and.new_tensor(self.coeff)
        # carb_total_loss, split into the crop and the patch part (logged apart)
        return dict(
            loss_full=loss_and + coefficient * loss_vit,
            loss_patch=loss_partand + coefficient * loss_partdif,
            l_and=loss_and.detach(),
            l_vit=loss_vit.detach(),
            coeff=coefficient.detach())
