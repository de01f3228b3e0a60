"""MuP-VSS's loss terms: CCP, CIP and P2P (formulas in ``mupvss_loss.py``).

The classification loss is a :class:`ClsTerm` on the :class:`MuPVSSHead`. The three terms
read the prototypes and patch tokens of the SAME training forward that produced the head's
logits and CAMs (:func:`mupvss_parts`), so each has its own weight and schedule.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..mupvss_loss import ccp_contrast, cip_contrast, p2p_consistency
from .base import LossTerm

EXTRAS_KEY = 'mupvss_parts'
CIP_KEYS = ('bank', 'batch', 'both')


def mupvss_parts(ctx: TrainContext, branch: str, cam: str) -> Dict[str, Tensor]:
    """``patches`` (B, E, h, w), ``protos`` (B, C, E), ``cams``, ``logits`` of head ``cam``.

    Taken from the head's cache of the training forward (identity-checked against
    ``ctx.cams[cam]``) the first time a term asks, then kept in ``ctx.extras`` for the other
    terms of the step; when the cache does not match (a head run outside the branch forward),
    the head's :meth:`forward_parts` reruns on the branch's backbone output.
    """
    table = ctx.extras.setdefault(EXTRAS_KEY, {})
    if cam in table:
        return table[cam]
    head = ctx.extras['cam_heads'][cam]
    parts = head.pop_parts(ctx.require('cams', cam))
    if parts is None:
        out = ctx.require('branches', branch)
        module = ctx.extras['branch_modules'][branch]
        parts = head.forward_parts(module._head_input(cam, out.feats))
    table[cam] = parts
    return parts


class _MuPVSSTerm(LossTerm):

    def __init__(self, name: str, branch: str = 'net', cam: str = 'cam', **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.branch, self.cam = branch, cam


@MODELS.register_module()
class MuPVSSCCPTerm(_MuPVSSTerm):
    """Cross-class prototype contrast (:func:`ccp_contrast`): ``loss_ccp``.

    Args:
        tau: temperature (open choice, 0.1).
        anchors, negatives: see :func:`ccp_contrast` (open choices: ``'present'``, ``'all'``).
    """

    loss_keys = ('loss_ccp', )

    def __init__(self,
                 name: str = 'ccp',
                 tau: float = 0.1,
                 anchors: str = 'present',
                 negatives: str = 'all',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.tau, self.anchors, self.negatives = tau, anchors, negatives

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        parts = mupvss_parts(ctx, self.branch, self.cam)
        return {
            'loss_ccp':
            ccp_contrast(parts['protos'], ctx.img_labels, self.tau, self.anchors, self.negatives)
        }


@MODELS.register_module()
class MuPVSSCIPTerm(_MuPVSSTerm):
    """Cross-image prototype contrast (:func:`cip_contrast`) against a class memory and/or the
    other images of the batch: ``loss_cip``.

    Anchors: the prototypes of every present (image, class) of the batch. Keys:

    * ``'bank'``: the written slots of a :class:`PrototypeBank` (C classes, ``bank`` config;
      E must match the head). After the loss the bank takes this step's DETACHED present
      prototypes (label-masked write, its own update rule; rank-gathered);
    * ``'batch'``: the present prototypes of the other images of the batch (an anchor never
      sees its own image's), detached when ``detach_keys``;
    * ``'both'``: the two key sets together.

    A step without any positive key (an empty bank, no shared class) gives 0.

    Args:
        tau: temperature (open choice, 0.1).
        keys: one of ``CIP_KEYS`` (open choice, ``'bank'``).
        bank: the :class:`PrototypeBank` config (``num_classes`` and ``dim`` required).
        detach_keys: no gradient through batch keys.
    """

    loss_keys = ('loss_cip', )

    def __init__(self,
                 name: str = 'cip',
                 tau: float = 0.1,
                 keys: str = 'bank',
                 bank: Optional[dict] = None,
                 detach_keys: bool = True,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if keys not in CIP_KEYS:
            raise ValueError(f'keys must be one of {CIP_KEYS}, got {keys!r}')
        if keys in ('bank', 'both'):
            if bank is None:
                raise ValueError(f"MuPVSSCIPTerm(keys='{keys}') needs bank=dict(num_classes, dim)")
            cfg = dict(type='PrototypeBank')
            cfg.update(bank)
            self.bank = MODELS.build(cfg)
        else:
            self.bank = None
        self.tau, self.keys, self.detach_keys = tau, keys, detach_keys

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        protos = mupvss_parts(ctx, self.branch, self.cam)['protos']  # (B, C, E)
        present = ctx.img_labels > 0
        img_idx, cls_idx = present.nonzero(as_tuple=True)
        anchors = protos[img_idx, cls_idx]  # (N, E)
        key_list, cls_list, excl_list = [], [], []
        if self.bank is not None:
            valid = self.bank.valid.flatten()
            bank_keys = self.bank.flat()[valid].to(protos.dtype)
            key_list.append(bank_keys)
            cls_list.append(self.bank.slot_labels()[valid])
            excl_list.append(
                torch.zeros(len(anchors), len(bank_keys), dtype=torch.bool, device=protos.device))
        if self.keys in ('batch', 'both'):
            batch_keys = anchors.detach() if self.detach_keys else anchors
            key_list.append(batch_keys)
            cls_list.append(cls_idx)
            excl_list.append(img_idx[:, None] == img_idx[None, :])
        keys = torch.cat(key_list, 0)
        loss = cip_contrast(anchors, cls_idx, keys, torch.cat(cls_list, 0), self.tau,
                            torch.cat(excl_list, 1))
        if self.bank is not None:
            self.bank.write(protos.detach(), present)
        return {'loss_cip': loss}


@MODELS.register_module()
class MuPVSSP2PTerm(_MuPVSSTerm):
    """Patch-to-prototype consistency (:func:`p2p_consistency`) on a pseudo label on the
    token grid (a :class:`CAMLabelSource` with ``size='cam'``): ``loss_p2p``.

    Args:
        label: the pseudo-label name (``ctx.pseudo``).
        tau: temperature (open choice, 0.1).
        bg: ``'masked_mean'`` or ``'none'`` (see :func:`p2p_consistency`).
    """

    loss_keys = ('loss_p2p', )

    def __init__(self,
                 name: str = 'p2p',
                 label: str = 'p2p',
                 tau: float = 0.1,
                 bg: str = 'masked_mean',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.label, self.tau, self.bg = label, tau, bg

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        parts = mupvss_parts(ctx, self.branch, self.cam)
        label = ctx.require('pseudo', self.label)
        return {
            'loss_p2p':
            p2p_consistency(parts['patches'], parts['protos'], label, ctx.img_labels, self.tau,
                            self.bg)
        }
