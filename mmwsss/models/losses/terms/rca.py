"""RCA's terms (maeve07/RCA ``train.py`` + ``RCAModel.forward``).

The classification terms are two :class:`ClsTerm` (the fine map with weight 1, the coarse
one with 0.4). :class:`RCAContrastTerm` is the region-contrast mix-up loss (weight 0.01
from epoch 2) AND the memory write that follows it in every iteration (so it must not be
skipped while its schedule is off). :class:`RCAAttentionTerm` is the online attention
accumulation into a folder; it returns no loss.
"""
from typing import Dict, Optional

import torch
from mmengine import dist
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from mmwsss.utils.io import output_key
from ...heads.rca_head import _pick
from ...utils.attention_accumulation import AttentionAccumulator
from ..region_contrast import rca_memory_embeddings, region_contrast_mixup_loss, sample_mixup
from .base import LossTerm


def _head(ctx: TrainContext, name: str):
    heads = ctx.extras['cam_heads']
    if name not in heads:
        raise KeyError(f"no CAM head '{name}'; heads: {sorted(heads)}")
    return heads[name]


def _branch_of(ctx: TrainContext, cam: str) -> str:
    for bname, out in ctx.branches.items():
        if cam in out.cams:
            return bname
    raise KeyError(f"no branch produced CAM '{cam}'")


@MODELS.register_module()
class RCAContrastTerm(LossTerm):
    """Region contrast with embedding mix-up, then the regional-memory write.

    Args:
        cam: the :class:`RCAHead` (fine map, memory, projection).
        coarse: the :class:`RCACoarseHead` (region masks).
        tau: 0.07. alpha: Beta(alpha, alpha) of the mix-up (8).
        conf: the sigmoid score above which a present class is written (0.7).
        chain_masks: the official doubly-masked quirk of the write
            (:func:`rca_memory_embeddings`); False = the paper's per-class regions.
        The schedule should be ``StepOn(start=2 * iters_per_epoch, strict=False)`` with
        weight 0.01 (the official ``current_epoch >= 2``).
    """

    loss_keys = ('loss_contrast', )

    def __init__(self,
                 name: str = 'contrast',
                 cam: str = 'main',
                 coarse: str = 'coarse',
                 tau: float = 0.07,
                 alpha: float = 8.0,
                 conf: float = 0.7,
                 chain_masks: bool = False,
                 **kwargs) -> None:
        if kwargs.get('skip_when_off'):
            raise ValueError('RCAContrastTerm writes the memory every iteration; it cannot '
                             'be skipped while its loss is off')
        super().__init__(name=name, **kwargs)
        self.cam, self.coarse = cam, coarse
        self.tau, self.alpha, self.conf = tau, alpha, conf
        self.chain_masks = chain_masks

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        head = _head(ctx, self.cam)
        x = _pick(ctx.require('branches', _branch_of(ctx, self.cam)).feats, head.in_index)
        coarse = ctx.require('cams', self.coarse)
        labels = ctx.img_labels
        if self.factor(ctx.iter) != 0.0:
            mid = head.project(x)
            mixes = sample_mixup(labels, self.alpha)
            loss = region_contrast_mixup_loss(
                mid, coarse, labels, head.memory.protos, mixes, tau=self.tau)
        else:  # the official code computes it and throws it away; nothing to learn
            loss = x.new_zeros(())
        with torch.no_grad():
            probs = torch.sigmoid(ctx.require('logits', self.cam))
            emb, write = rca_memory_embeddings(
                x.detach(),
                coarse.detach(),
                labels,
                probs,
                conf=self.conf,
                chain_masks=self.chain_masks)
            head.memory.write(emb, write)
        return {'loss_contrast': loss, 'mem_writes': write.sum().float()}


@MODELS.register_module()
class RCAAttentionTerm(LossTerm):
    """Online attention accumulation of the fine maps (OAA rule, see
    :mod:`mmwsss.models.utils.attention_accumulation`).

    Args:
        cam: the head whose ReLU'd maps are accumulated (RCA: the fine ``map``).
        att_dir: output folder (``<image stem>_<class>.png``).
        iters_per_epoch / num_epochs: epoch = iter // iters_per_epoch; active from epoch
            ``start_epoch`` (1); the last epoch (num_epochs - 1) writes missing maps
            unconditionally.
        min_prob: 0.1.
        img_root: image folder to name outputs relative to (None: the file stem).
    """

    def __init__(self,
                 name: str = 'oaa',
                 cam: str = 'main',
                 att_dir: Optional[str] = None,
                 iters_per_epoch: int = 1,
                 num_epochs: int = 1,
                 start_epoch: int = 1,
                 min_prob: float = 0.1,
                 img_root: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not att_dir:
            raise ValueError('RCAAttentionTerm needs att_dir (the accumulation folder)')
        self.cam, self.att_dir = cam, att_dir
        self.iters_per_epoch, self.num_epochs = int(iters_per_epoch), int(num_epochs)
        self.start_epoch, self.min_prob, self.img_root = int(start_epoch), min_prob, img_root
        self._acc: Optional[AttentionAccumulator] = None

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        epoch = ctx.iter // self.iters_per_epoch
        cams = ctx.require('cams', self.cam)
        if epoch < self.start_epoch:
            return {'att_written': cams.new_zeros(())}
        if self._acc is None:
            # rank 0 removes a killed run's temporary files before any rank writes
            self._acc = AttentionAccumulator(
                self.att_dir, self.min_prob, clean=dist.get_rank() == 0)
            dist.barrier()
        last = epoch >= self.num_epochs - 1
        probs = torch.sigmoid(ctx.require('logits', self.cam)).detach()
        labels = ctx.img_labels
        written = 0
        for j, sample in enumerate(ctx.data_samples):
            key = output_key(sample.metainfo['img_path'], self.img_root)
            for c in labels[j].nonzero(as_tuple=True)[0].tolist():
                what = self._acc.update(key, c, cams[j, c], float(probs[j, c]), last)
                written += what != 'skipped'
        return {'att_written': cams.new_tensor(float(written))}
