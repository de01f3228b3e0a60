"""PSDPM's training step (``train_resnet50_psdpm.py::train``) as one loss term.

Two scales: s1 = the network input, s2 = the input bilinearly downscaled x0.5
(``align_corners=True``). At each scale :meth:`PSDPMHead.train_outputs` gives the score (6
GAP logits), ``cam22`` (the attention-refined multi-level CAM) and ``pcam`` (the prototype
CAM); the baseline's probability maps ``gt`` (files, see
:mod:`mmwsss.models.utils.baseline_maps`) are bilinearly resized to each scale's grid and
masked by its valid mask:

* ``L_CLS = (MLSM(score_s1) + MLSM(score_s2)) / 2``;
* ``L_GSC = 2 * mean(|gt_s1 - cam22_s1| + 0.05 |pcam_s1 - cam22_s1|)``;
* ``L_cons = 0.4 * mean(|gt_s2 - cam22_s2| + 0.05 |pcam_s2 - cam22_s2|)``.

The optional 21-slot replay memory (``replay=dict(...)``, the official ``slot``):
S stored images (initially zeros, with zero valid masks, zero maps and ALL-ONES labels, as
the official buffers) are appended to both scales' batches; after the losses, each image of
the batch is written to the slot of one of its present classes (bg included) drawn
uniformly, in batch order (a later image overwrites an earlier one).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...utils.baseline_maps import load_batch_baseline_probs
from .base import LossTerm
from .sipe import sipe_valid_mask


def psdpm_l1_loss(gt: Tensor, cam22: Tensor, pcam: Tensor, proto_weight: float = 0.05) -> Tensor:
    """``mean(|gt - cam22| + 0.05 |pcam - cam22|)`` over all elements.

    Args:
        gt: (N, K, h, w) baseline maps (already x the valid mask, as ``Net.forward``).
        cam22: (N, K, h, w) refined multi-level CAM.
        pcam: (N, K, h, w) prototype CAM.
        proto_weight: 0.05.
    Returns:
        scalar; the term multiplies it by 2 (s1, ``L_GSC``) or 0.4 (s2, ``L_cons``).
    """
    return torch.mean(torch.abs(gt - cam22) + proto_weight * torch.abs(pcam - cam22))


def psdpm_cls_loss(score1: Tensor, score2: Tensor, labels: Tensor) -> Tensor:
    """``(MLSM(score_s1, y) + MLSM(score_s2, y)) / 2``; scores and labels (N, C).

    (The official passes (N, C, 1, 1) tensors: torch then averages the per-element loss
    over N * C, the same value as the (N, C) call.)"""
    return (F.multilabel_soft_margin_loss(score1, labels) +
            F.multilabel_soft_margin_loss(score2, labels)) / 2


def choose_slot_indices(labels_bg: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Per image, a slot drawn uniformly among its present classes, bg included.

    Args:
        labels_bg: (B, K) multi-hot with channel 0 = 1 (bg).
        generator: CPU generator (the official ``random.randint`` is unseeded here).
    Returns:
        (B,) long slot indices.
    """
    out = []
    for row in labels_bg:
        present = torch.nonzero(row.detach().cpu() > 0).flatten()
        if present.numel() == 0:
            raise ValueError('an image has no present class (bg must be 1)')
        j = int(torch.randint(0, present.numel(), (1, ), generator=generator))
        out.append(int(present[j]))
    return torch.tensor(out, dtype=torch.long)


def write_slots(slots: Dict[str, Tensor], indices: Tensor, values: Dict[str, Tensor]) -> None:
    """``slots[name][indices[i]] = values[name][i]`` in batch order, in place.

    Args:
        slots: name -> (S, ...) buffers.
        indices: (B,) slot of each image.
        values: name -> (B, ...) the batch's entries (same trailing shapes).
    """
    for name, buf in slots.items():
        val = values[name].detach().to(buf)
        for i, s in enumerate(indices.tolist()):
            buf[s] = val[i]


class ReplaySlots(nn.Module):
    """The official ``slot`` / ``slot_vm`` / ``sltarget`` / ``gts1`` / ``gts2`` buffers.

    Buffers are allocated on the first call (shapes of the first batch) and are not saved
    in checkpoints (the official keeps them on the CPU, unsaved; a resumed run restarts
    from empty slots).

    Args:
        num_slots: S (21 = 1 + C on VOC: one per class, bg included).
        seed: of the generator that picks the slots.
    """

    NAMES = ('img', 'valid1', 'labels', 'gt1', 'gt2')

    def __init__(self, num_slots: int = 21, seed: int = 0) -> None:
        super().__init__()
        self.num_slots = int(num_slots)
        self.generator = torch.Generator().manual_seed(int(seed))
        for n in self.NAMES:
            self.register_buffer(n, None, persistent=False)

    def state(self, like: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The current buffers, allocated from ``like`` (name -> (B, ...)) if needed:
        zeros, except the labels (ones: ``sltarget = torch.ones``)."""
        for n in self.NAMES:
            ref = like[n]
            cur = getattr(self, n)
            shape = (self.num_slots, *ref.shape[1:])
            if cur is None or tuple(cur.shape) != shape:
                if cur is not None:
                    raise ValueError(f'replay slot {n!r} holds {tuple(cur.shape)} but the batch '
                                     f'gives {shape}: the replay memory needs a fixed input '
                                     'size (resize, no random crop sizes)')
                fill = torch.ones if n == 'labels' else torch.zeros
                setattr(self, n, fill(shape, dtype=ref.dtype, device=ref.device))
        return {n: getattr(self, n) for n in self.NAMES}

    @torch.no_grad()
    def write(self, values: Dict[str, Tensor], labels_bg: Tensor) -> Tensor:
        """Write the batch (after the losses); returns the chosen slot indices."""
        if labels_bg.shape[1] > self.num_slots:
            raise ValueError(f'{self.num_slots} replay slots for {labels_bg.shape[1]} classes '
                             '(bg included): the slot index is the class index, give '
                             'num_slots = 1 + C')
        idx = choose_slot_indices(labels_bg, self.generator)
        write_slots({n: getattr(self, n) for n in self.NAMES}, idx, values)
        return idx


@MODELS.register_module()
class PSDPMTerm(LossTerm):
    """PSDPM's three losses on two scales (+ the optional replay memory).

    Reads the branch's backbone outputs (the s1 pass of the current batch) and the
    :class:`~mmwsss.models.heads.psdpm_head.PSDPMHead` ``cam``; runs the backbone on the
    x0.5 input (and on the slot images, when replay is on). Returns ``loss_cls`` (L_CLS),
    ``loss_gsc`` (x ``gsc_weight``) and ``loss_cons`` (x ``cons_weight``); the term's own
    ``weight`` multiplies all three (1).

    Args:
        branch / cam: the branch and head names.
        baseline_dir: folder of the baseline probability maps (one file per training image;
            a missing one is an error).
        baseline_bg: bg of CAM-format baseline files (``'one_minus_max'`` or a constant).
        scale2: the second scale (0.5).
        gsc_weight / cons_weight: 2.0 / 0.4.
        proto_weight: the 0.05 of :func:`psdpm_l1_loss`.
        replay: ``dict(num_slots=21, seed=0)`` (the official slot memory) or None.
        use_replay: switch for ``replay`` (False: no slots, whatever ``replay`` says; a
            command line can flip it with ``--cfg-options model.loss_terms.0.use_replay=True``).
    """

    def __init__(self,
                 name: str = 'psdpm',
                 branch: str = 'net',
                 cam: str = 'psdpm',
                 baseline_dir: Optional[str] = None,
                 baseline_bg='one_minus_max',
                 scale2: float = 0.5,
                 gsc_weight: float = 2.0,
                 cons_weight: float = 0.4,
                 proto_weight: float = 0.05,
                 replay: Optional[dict] = None,
                 use_replay: bool = True,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam = branch, cam
        self.baseline_dir = baseline_dir
        self.baseline_bg = baseline_bg
        self.scale2 = float(scale2)
        self.gsc_weight = float(gsc_weight)
        self.cons_weight = float(cons_weight)
        self.proto_weight = float(proto_weight)
        self.replay = ReplaySlots(**replay) if replay is not None and use_replay else None

    def baseline(self, ctx: TrainContext, num_classes: int, sizes: Sequence[Tuple[int,
                                                                                  int]]) -> list:
        if not self.baseline_dir:
            raise KeyError('PSDPMTerm needs baseline_dir: the folder of the baseline '
                           "method's probability maps (see mmwsss/models/utils/baseline_maps.py)")
        return load_batch_baseline_probs(self.baseline_dir, ctx.data_samples, num_classes, sizes,
                                         self.baseline_bg)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        out = ctx.require('branches', self.branch)
        head = ctx.extras['cam_heads'][self.cam]
        net = ctx.extras['branch_modules'][self.branch]
        inputs = ctx.inputs
        feats1 = tuple(out.feats)
        labels = ctx.img_labels.to(inputs.dtype)
        x2 = F.interpolate(inputs, scale_factor=self.scale2, mode='bilinear', align_corners=True)
        feats2 = tuple(net.extract_feat(x2))
        grid1 = tuple(head.levels(feats1)[-1].shape[-2:])
        grid2 = tuple(head.levels(feats2)[-1].shape[-2:])
        valid1 = sipe_valid_mask(labels, grid1, ctx.valid_mask)
        valid2 = sipe_valid_mask(labels, grid2, ctx.valid_mask)
        gt1, gt2 = (g.to(inputs) for g in self.baseline(ctx, head.num_classes, [grid1, grid2]))
        cur = dict(img=inputs, valid1=valid1, labels=labels, gt1=gt1, gt2=gt2)
        labels_all, gt1_all, gt2_all = labels, gt1, gt2
        valid1_all, valid2_all = valid1, valid2
        if self.replay is not None:
            slots = {k: v.clone() for k, v in self.replay.state(cur).items()}
            # frozen BN: the backbone is per-image, so the slots' s1 features can be
            # computed apart and concatenated to the branch's (no second pass on the batch)
            s_feats1 = tuple(net.extract_feat(slots['img']))
            feats1 = tuple(torch.cat([a, b], 0) for a, b in zip(feats1, s_feats1))
            s_x2 = F.interpolate(
                slots['img'], scale_factor=self.scale2, mode='bilinear', align_corners=True)
            s_feats2 = tuple(net.extract_feat(s_x2))
            feats2 = tuple(torch.cat([a, b], 0) for a, b in zip(feats2, s_feats2))
            labels_all = torch.cat([labels, slots['labels']], 0)
            gt1_all = torch.cat([gt1, slots['gt1']], 0)
            gt2_all = torch.cat([gt2, slots['gt2']], 0)
            valid1_all = torch.cat([valid1, slots['valid1']], 0)
            # the official: the slots' s1 masks bilinearly (align_corners=False) to s2
            valid2_all = torch.cat(
                [valid2, F.interpolate(slots['valid1'], size=grid2, mode='bilinear')], 0)
        o1 = head.train_outputs(feats1, valid1_all)
        o2 = head.train_outputs(feats2, valid2_all)
        losses = dict(
            loss_cls=psdpm_cls_loss(o1['score'], o2['score'], labels_all),
            loss_gsc=self.gsc_weight *
            psdpm_l1_loss(gt1_all * valid1_all, o1['cam22'], o1['pcam'], self.proto_weight),
            loss_cons=self.cons_weight *
            psdpm_l1_loss(gt2_all * valid2_all, o2['cam22'], o2['pcam'], self.proto_weight))
        if self.replay is not None:
            bg = torch.ones_like(labels[:, :1])
            self.replay.write(cur, torch.cat([bg, labels], 1))
        return losses
