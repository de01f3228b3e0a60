"""WeCLIP's online pseudo labels: CLIP-ES CAMs of a frozen CLIP, refined by the RFM and PAR.

Official (``WeCLIP_model/model_attn_aff_voc.py: WeCLIP.forward`` and
``clip/clip_tool.py: perform_single_voc_cam / compute_trans_mat / generate_cam_label``), per
training image, on the augmented crop:

1. Grad-CAM of CLIP-ES (:mod:`mmwsss.models.foundation.clip_es_ops`): the last CLIP block
   on the tokens of block 10, mean-pooled patch embedding, softmax of ``logit_scale * cos``
   over [present fg classes + all bg prompts]; the gradient of each present class's
   probability at ``resblocks[-1].ln_1``; min-max (twice, pytorch-grad-cam);
2. the attention used for CAA:

   * before the RFM onset: the mean of the last 8 of the 12 attention maps (CLIP-ES);
   * with the **RFM** (refinement module, :func:`rfm_attention`): of the last 6 (VOC) / 10
     (COCO) maps A_l, keep those with ``d_l = sum(R - A_l) <= mean_l d_l`` (R = the decoder
     affinity ``sigmoid(F^T F)``, detached), average them, multiply element-wise by R;

3. Sinkhorn (3 rounds of column / row normalisation), symmetrised, squared; per class the
   box mask of the Grad-CAM (threshold 0.4 VOC / 0.7 COCO) zeroes the source columns;
   ``refined = (T * mask_row) @ cam``;
4. per class min-max, bilinear to the crop size; bg = ``(1 - max_c cam) ** 1``; PAR
   (20 iterations, dilations 1..24, on the ImageNet-normalised crop, full resolution) on
   [bg, present classes]; argmax: a hard label with no ignore region.

Quirks of the official code are options (the paper's intent is the default):

* ``labels='img_labels'`` (default) uses the dataset's image labels; ``'gt_mask'`` reads them,
  as the official code, from the unique values of the ground-truth mask PNG
  (``<gt_mask_dir>/<image stem>.png``: values 1..C, 0 and 255 dropped);
* the RFM starts when the TRAINING iteration passes ``rfm_start`` (official: 15000);
  ``rfm_onset_val=dict(interval, num_images)`` reproduces the official counter, which also
  counts the validation forwards (VOC: 1464 images every 2000 iterations, so the RFM starts
  at training iteration 9144);
* ``rfm_distance='signed'`` is the official ``sum(R - A_l)``; ``'abs'`` is the
  commented-out ``sum(|R - A_l|)``.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from PIL import Image
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..backbones.frozen_clip import find_frozen_clip
from ..foundation.class_names import CLIP_ES_TEMPLATES
from ..foundation.clip_es_ops import (caa_refine, cam_box_mask, grad_cam, minmax_scale,
                                      sinkhorn_affinity)

__all__ = [
    'rfm_layer_mask', 'rfm_attention', 'caa_attention', 'clip_grad_cams', 'labels_from_mask',
    'rfm_iteration_count', 'WeCLIPLabelSource'
]


def rfm_layer_mask(attns: Tensor, affinity: Tensor, distance: str = 'signed') -> Tensor:
    """RFM's layer selection: which CLIP attention maps are close to the decoder affinity.

        d_l  = sum_ij (R_ij - A_l,ij)          ('signed', official)
             = sum_ij |R_ij - A_l,ij|          ('abs', the commented-out variant)
        keep = d_l <= mean_l d_l

    Args:
        attns: (L, N, N) patch-to-patch CLIP attention maps (CLS row / column removed).
        affinity: (N, N) decoder affinity R.
        distance: ``'signed'`` or ``'abs'``.
    Returns:
        (L,) bool mask of the kept layers.
    """
    if distance not in ('signed', 'abs'):
        raise ValueError(f"distance must be 'signed' or 'abs', got {distance!r}")
    diff = affinity[None].float() - attns.float()
    if distance == 'abs':
        diff = diff.abs()
    d = diff.flatten(1).sum(1)
    return d <= d.mean()


def rfm_attention(attns: Tensor,
                  affinity: Tensor,
                  distance: str = 'signed',
                  eps: float = 1e-5) -> Tensor:
    """The RFM's attention for CAA: kept layers averaged, times the decoder affinity.

        A = (sum_l keep_l A_l) / (sum_l keep_l + eps) * R        (R detached)

    Args:
        attns: (L, N, N) the candidate maps (official: the last 6 VOC / 10 COCO of 12).
        affinity: (N, N) decoder affinity R.
    Returns:
        (N, N) attention, input of :func:`sinkhorn_affinity`.
    """
    keep = rfm_layer_mask(attns, affinity, distance).to(attns.dtype)
    mean = (keep[:, None, None] * attns).sum(0) / (keep.sum() + eps)
    return mean.float() * affinity.detach().float()


def caa_attention(attns: Tensor, num_layers: int = 8) -> Tensor:
    """CLIP-ES's attention for CAA: the mean of the last ``num_layers`` (L, N, N) maps."""
    return attns[-num_layers:].float().mean(0)


def clip_grad_cams(clip, tokens: Tensor, text: Tensor, num_fg: int,
                   grid: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """CLIP-ES Grad-CAM of one image at the last CLIP block.

    Args:
        clip: an :class:`~mmwsss.models.foundation.OpenCLIP`.
        tokens: (1, 1 + N, D) tokens entering the last block (CLS first).
        text: (K + K_bg, E) text embeddings, the K present classes first.
        num_fg: K.
        grid: (h, w), h * w = N.
    Returns:
        cams (K, h, w) in [0, 1] (min-max twice, as pytorch-grad-cam) and the last block's
        head-averaged attention (1 + N, 1 + N).
    """
    block = clip.clip.visual.transformer.resblocks[-1]
    with torch.enable_grad():
        # the Grad-CAM target is the output of the last block's ln_1 (a leaf here)
        y = block.ln_1(tokens.detach()).detach().requires_grad_(True)
        x_last, attn_last = clip.block_forward(block, tokens.detach(), ln_1_out=y)
        emb = clip.pool_tokens(x_last, pool='avg', normalize=True)
        probs = (clip.logit_scale * emb @ text.to(emb.dtype).t()).softmax(-1)[0]
        grads = torch.stack([
            torch.autograd.grad(probs[k], y, retain_graph=k < num_fg - 1)[0][0, 1:]
            for k in range(num_fg)
        ])
    cams = grad_cam(y.detach()[0, 1:].float(), grads.float(), grid)
    return minmax_scale(minmax_scale(cams)), attn_last.detach()[0]


def labels_from_mask(path: str, num_classes: int) -> List[int]:
    """Foreground class indices read from a ground-truth mask PNG, as WeCLIP does:
    the unique values v in 1..num_classes become v - 1 (0 = background and 255 = ignore are
    dropped; the official ``np.unique(png) - 1`` on uint8 wraps 0 to 255 and removes 255 /
    254)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"labels='gt_mask': no mask {path}")
    values = np.unique(np.asarray(Image.open(path)))
    return [int(v) - 1 for v in values if 1 <= int(v) <= num_classes]


def rfm_iteration_count(it: int, onset_val: Optional[dict] = None) -> int:
    """The official ``self.iter_num`` at 0-based training iteration ``it``.

    ``iter_num`` is incremented by every forward; it is ``it + 1`` when only training
    forwards count (paper intent), plus ``(it // interval) * num_images`` when the
    validation forwards before this iteration count too (``onset_val``; a validation after
    every ``interval`` iterations, one forward per image, batch 1).
    """
    count = it + 1
    if onset_val:
        count += (it // int(onset_val['interval'])) * int(onset_val['num_images'])
    return count


@MODELS.register_module()
class WeCLIPLabelSource(BaseModule):
    """Online WeCLIP pseudo labels ``(B, H, W)`` at the crop size (see the module doc).

    Args:
        branch: the branch with the :class:`FrozenCLIPBackbone` and the :class:`WeCLIPHead`.
        class_names / bg_class_names / templates: CLIP-ES prompts (VOC / COCO lists in
            :mod:`mmwsss.models.foundation.class_names`).
        box_thr: CAA box threshold (VOC 0.4, COCO 0.7).
        caa_layers: last attention maps averaged without the RFM (8).
        rfm_layers: last attention maps the RFM chooses from (VOC 6, COCO 10).
        rfm_start: the RFM is on when the iteration count exceeds this (15000; None: never).
        rfm_onset_val: None (paper intent: training iterations only) or
            ``dict(interval, num_images)``: the official count including validation forwards
            (:func:`rfm_iteration_count`).
        rfm_distance: ``'signed'`` (official) or ``'abs'``.
        sinkhorn_iters: Sinkhorn rounds (3).
        bg_power: exponent of the background score (1).
        refiner: PAR config (``PARRefiner`` in ``'scores'`` mode: 20 iterations, full
            resolution, ImageNet-normalised image); None: argmax without PAR.
        labels: ``'img_labels'`` (default) or ``'gt_mask'`` (official quirk).
        gt_mask_dir: folder of the masks for ``labels='gt_mask'``.
        ignore_padding: 255 on the batch padding (False: the official code labels the
            padded crop border like any other pixel).
    """

    def __init__(self,
                 class_names: Sequence[str],
                 bg_class_names: Sequence[str] = (),
                 templates: Sequence[str] = tuple(CLIP_ES_TEMPLATES),
                 branch: str = 'net',
                 box_thr: float = 0.4,
                 caa_layers: int = 8,
                 rfm_layers: int = 6,
                 rfm_start: Optional[int] = 15000,
                 rfm_onset_val: Optional[dict] = None,
                 rfm_distance: str = 'signed',
                 sinkhorn_iters: int = 3,
                 bg_power: float = 1.0,
                 refiner: Optional[dict] = None,
                 labels: str = 'img_labels',
                 gt_mask_dir: Optional[str] = None,
                 ignore_padding: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if labels not in ('img_labels', 'gt_mask'):
            raise ValueError(f"labels must be 'img_labels' or 'gt_mask', got {labels!r}")
        if labels == 'gt_mask' and not gt_mask_dir:
            raise ValueError("labels='gt_mask' needs gt_mask_dir")
        if rfm_distance not in ('signed', 'abs'):
            raise ValueError(f"rfm_distance must be 'signed' or 'abs', got {rfm_distance!r}")
        if rfm_onset_val is not None and not {'interval', 'num_images'} <= set(rfm_onset_val):
            raise KeyError('rfm_onset_val needs interval and num_images')
        if not class_names:
            raise ValueError('WeCLIPLabelSource needs class_names')
        self.class_names = list(class_names)
        self.bg_class_names = list(bg_class_names)
        self.templates = list(templates)
        self.branch = branch
        self.box_thr = float(box_thr)
        self.caa_layers = int(caa_layers)
        self.rfm_layers = int(rfm_layers)
        self.rfm_start = rfm_start
        self.rfm_onset_val = dict(rfm_onset_val) if rfm_onset_val else None
        self.rfm_distance = rfm_distance
        self.sinkhorn_iters = int(sinkhorn_iters)
        self.bg_power = float(bg_power)
        self.refiner = MODELS.build(refiner) if refiner is not None else None
        self.labels = labels
        self.gt_mask_dir = gt_mask_dir
        self.ignore_padding = ignore_padding
        self._text_cache: Dict[torch.device, Tuple[Tensor, Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def rfm_on(self, it: int) -> bool:
        """Whether the RFM refines the CAMs at 0-based training iteration ``it``."""
        if self.rfm_start is None:
            return False
        return rfm_iteration_count(it, self.rfm_onset_val) > int(self.rfm_start)

    def text_embeddings(self, clip) -> Tuple[Tensor, Tensor]:
        """(C, E) fg and (C_bg, E) bg zero-shot embeddings, cached per device."""
        device = clip.logit_scale.device
        if device not in self._text_cache:
            with torch.no_grad():
                fg = clip.class_embeddings(self.class_names, self.templates)
                bg = clip.class_embeddings(self.bg_class_names, self.templates) \
                    if self.bg_class_names else fg.new_zeros(0, fg.shape[1])
            self._text_cache[device] = (fg.float(), bg.float())
        return self._text_cache[device]

    def present_classes(self, ctx: TrainContext, i: int) -> List[int]:
        if self.labels == 'img_labels':
            return ctx.img_labels[i].nonzero().flatten().tolist()
        meta = ctx.data_samples[i].metainfo
        stem = osp.splitext(osp.basename(meta['img_path']))[0]
        return labels_from_mask(osp.join(self.gt_mask_dir, stem + '.png'), self.num_classes)

    def image_cams(self, clip, tokens: Tensor, attns: Tensor, affinity: Optional[Tensor],
                   fg_idx: Sequence[int], grid: Tuple[int, int]) -> Tensor:
        """Refined CAMs (K, h, w) (before the final min-max) of one image.

        Args:
            tokens: (1, 1 + N, D) tokens entering the last CLIP block.
            attns: (L - 1, 1 + N, 1 + N) attention maps of the blocks before it.
            affinity: (N, N) decoder affinity (RFM) or None (CLIP-ES attention).
        """
        fg_text, bg_text = self.text_embeddings(clip)
        text = torch.cat([fg_text[list(fg_idx)], bg_text], 0)
        cams, attn_last = clip_grad_cams(clip, tokens, text, len(fg_idx), grid)
        all_attns = torch.cat([attns.float(), attn_last[None].float()], 0)[:, 1:, 1:]
        if affinity is not None:
            attn = rfm_attention(all_attns[-self.rfm_layers:], affinity, self.rfm_distance)
        else:
            attn = caa_attention(all_attns, self.caa_layers)
        trans = sinkhorn_affinity(attn, self.sinkhorn_iters)
        return caa_refine(cams, trans, cam_box_mask(cams, self.box_thr))

    @torch.no_grad()
    def forward(self, ctx: TrainContext) -> Tensor:
        branch = ctx.extras['branch_modules'][self.branch]
        clip = find_frozen_clip(branch.backbone).clip
        feats = ctx.require('branches', self.branch).feats
        head = branch.decode_head
        use_rfm = self.rfm_on(ctx.iter)
        affinity = getattr(head, 'last_affinity', None) if use_rfm else None
        if use_rfm and affinity is None:
            raise RuntimeError("the RFM needs the decode head's last_affinity (WeCLIPHead in "
                               'training mode)')
        grid = feats.grid
        b = ctx.inputs.shape[0]
        size = tuple(ctx.inputs.shape[-2:])
        num_blocks = len(feats.attns)
        cams = ctx.inputs.new_zeros(b, self.num_classes, *size, dtype=torch.float32)
        # the argmax runs over [bg, present classes] only, as the official valid_key
        present = torch.zeros(b, 1 + self.num_classes, dtype=torch.bool, device=cams.device)
        present[:, 0] = True
        for i in range(b):
            fg_idx = self.present_classes(ctx, i)
            if not fg_idx:
                continue
            present[i, [k + 1 for k in fg_idx]] = True
            patches = feats[-1][i:i + 1].flatten(2).transpose(1, 2)
            tokens = torch.cat([feats.cls_tokens[i:i + 1], patches], 1)
            attns = torch.stack([feats.attns[k][i, 0] for k in range(num_blocks)])
            refined = self.image_cams(clip, tokens, attns,
                                      affinity[i] if affinity is not None else None, fg_idx, grid)
            # generate_cam_label: scale_cam_image = min-max, then bilinear to the crop
            refined = F.interpolate(
                minmax_scale(refined)[None], size=size, mode='bilinear', align_corners=False)[0]
            cams[i, fg_idx] = refined
        scores = torch.cat([(1 - cams.max(1, keepdim=True)[0]).clamp(min=0)**self.bg_power, cams],
                           1)
        # [bg, present classes] only, as the official code (PAR is linear per channel, so
        # the absent channels, all zero, would stay zero; gathering them out makes PAR
        # C / K times cheaper); slots beyond an image's K are zero and never win
        k_max = int(present.sum(1).max())
        order = present.float().argsort(dim=1, descending=True, stable=True)[:, :k_max]  # (B, K)
        keys = order.sort(1)[0]  # bg (0) first, then the present classes in index order
        valid = torch.gather(present, 1, keys)
        small = torch.gather(scores, 1, keys[..., None, None].expand(-1, -1, *size))
        small = small * valid[..., None, None]
        if self.refiner is not None:
            state = self.refiner(dict(img=ctx.img, cams=small[:, 1:], scores=small))
            small = state['scores']
        best = small.masked_fill(~valid[..., None, None], float('-inf')).argmax(1)
        label = torch.gather(keys, 1, best.flatten(1)).view_as(best)
        if self.ignore_padding and ctx.valid_mask is not None:
            label[~ctx.valid_mask] = 255
        return label
