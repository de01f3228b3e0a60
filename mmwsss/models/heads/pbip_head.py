"""PBIP's sub-class prototype classifier (QingchenTang/PBIP ``model/model.py::ClsNetwork``).

Each parent (tissue) class c has k_c sub-class prototypes: fixed encoder features of
curated per-class images, clustered offline (k = 3, seed 42; ``tools/pbip_prototypes.py``)
and kept in a :class:`PrototypeBank` with ``update='fixed'``. Per backbone stage s::

    W_s      = AdaptiveLayer_s(P)            P (K, D) the K = sum(k_c) prototypes,
                                             Linear(D, n_ratio*D) -> ReLU -> Linear(-, C_s)
    cam_s    = scale_s * <x_hat, W_s>        x_hat: per-pixel L2-normalised stage feature;
                                             W_s NOT normalised; scale_s learnable, 1/0.07
    logits_s = GAP(cam_s)                    (B, K) sub-class logits

Parent scores merge the k_c sub-class scores of a class (``hierarchical_utils.py``):
training ``'mean'`` (``merge_train=mean``), testing the softmax-weighted sum
``sum_j softmax(z)_j z_j`` (the official name of that rule is ``'max'``).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..prototypes.bank import PrototypeBank

MERGES = ('mean', 'softmax')


def _groups(k_list: Sequence[int]):
    start = 0
    for k in k_list:
        yield start, start + int(k)
        start += int(k)


def merge_subclasses(x: Tensor, k_list: Sequence[int], method: str = 'mean') -> Tensor:
    """Parent scores from sub-class scores (official ``merge_to_parent_predictions`` and
    ``merge_subclass_cams_to_parent``).

    Args:
        x: (B, K, ...) sub-class logits (B, K) or CAMs (B, K, h, w), K = sum(k_list),
            class-major (class c's sub-classes are consecutive).
        k_list: sub-classes per parent class.
        method: ``'mean'`` (training) or ``'softmax'``: ``sum_j softmax_j(z) * z_j`` over
            the class's sub-classes, per position (the official ``'max'``). A class with
            k = 1 passes through.
    Returns:
        (B, C, ...).
    """
    if method not in MERGES:
        raise ValueError(f'merge must be one of {MERGES}, got {method!r}')
    if x.shape[1] != sum(int(k) for k in k_list):
        raise ValueError(f'{x.shape[1]} sub-class channels but k_list {list(k_list)} sums to '
                         f'{sum(k_list)}')
    out = []
    for a, b in _groups(k_list):
        z = x[:, a:b]
        if b - a == 1:
            out.append(z[:, 0])
        elif method == 'mean':
            out.append(z.mean(1))
        else:
            out.append((z.softmax(1) * z).sum(1))
    return torch.stack(out, 1)


def expand_to_subclasses(parent: Tensor, k_list: Sequence[int]) -> Tensor:
    """(B, C) parent values -> (B, K): each class's value repeated k_c times
    (official ``expand_parent_to_subclass_labels``)."""
    reps = torch.as_tensor([int(k) for k in k_list], device=parent.device)
    return parent.repeat_interleave(reps, dim=1)


def active_subclasses(sub_logits: Tensor,
                      img_labels: Tensor,
                      k_list: Sequence[int],
                      merge: str = 'mean') -> Tensor:
    """PBIP's active sub-classes ``cls4_bir`` (``train_stage_1.py``).

    A sub-class is active when its image-level logit is STRICTLY above its parent's merged
    logit (``merge``, training: the mean of the class's sub-class logits) and the parent
    class is in the image label.

    Args:
        sub_logits: (B, K) sub-class logits of the last stage.
        img_labels: (B, C) multi-hot parent labels.
    Returns:
        (B, K) float 0/1.
    """
    parent = merge_subclasses(sub_logits, k_list, merge)
    above = (sub_logits > expand_to_subclasses(parent, k_list)).to(sub_logits.dtype)
    return above * expand_to_subclasses(img_labels.to(sub_logits.dtype), k_list)


def subclass_cams(feat: Tensor, weight: Tensor, scale: Tensor) -> Tensor:
    """``scale * <x / |x|, w_k>`` per pixel.

    Args:
        feat: (B, D, h, w) stage feature; weight: (K, D) un-normalised classifier rows;
        scale: () learnable scale.
    Returns:
        (B, K, h, w).
    """
    x = F.normalize(feat, dim=1)
    return scale * torch.einsum('bdhw,kd->bkhw', x, weight)


@MODELS.register_module()
class PBIPSubclassHead(BaseModule):
    """One stage's sub-class prototype classifier; ``forward(feats) -> (logits (B, K),
    cams (B, K, h, w))``.

    Args:
        in_channels: C_s of the stage feature ``feats[in_index]``.
        num_classes: C parent classes (foreground; background has no prototype).
        num_subclasses: k per class (PBIP's ``[3, 3, 3, 3]``; the bank holds a uniform k).
        proto_dim: D of the prototypes (MedCLIP 512; DINOv2 ViT-S 384).
        checkpoint: the prototype file, (C, k, D) centres (``tools/pbip_prototypes.py``);
            None (tests) leaves random unit centres, seeded with ``init_seed``.
        n_ratio: hidden width of the AdaptiveLayer = ``int(n_ratio * D)`` (official 0.5).
        scale_init: initial learnable scale (1 / 0.07).
        detach_cam: return the CAMs detached (official stages 1-3; logits keep their
            gradient either way).
        merge_train: parent merge of :meth:`loss_from_labels` (``'mean'``).
        in_index: which backbone output the head reads.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_subclasses: int = 3,
                 proto_dim: int = 512,
                 checkpoint: Optional[str] = None,
                 n_ratio: float = 0.5,
                 scale_init: float = 1 / 0.07,
                 detach_cam: bool = False,
                 merge_train: str = 'mean',
                 in_index: int = -1,
                 init_seed: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.num_classes = int(num_classes)
        self.k_list = [int(num_subclasses)] * self.num_classes
        self.detach_cam = detach_cam
        if merge_train not in MERGES:
            raise ValueError(f'merge_train must be one of {MERGES}, got {merge_train!r}')
        self.merge_train = merge_train
        if checkpoint is not None:
            self.bank = PrototypeBank(
                self.num_classes, proto_dim, int(num_subclasses), update='fixed', path=checkpoint)
        else:
            # no file: unit random centres of the right shape (tests, config builds)
            self.bank = PrototypeBank(
                self.num_classes, proto_dim, int(num_subclasses), init='randn', init_seed=init_seed)
            self.bank.protos.copy_(F.normalize(self.bank.protos, dim=-1))
            self.bank.count.fill_(1)
        hidden = int(n_ratio * proto_dim)
        self.adaptive = nn.Sequential(
            nn.Linear(proto_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, in_channels))
        self.scale = nn.Parameter(torch.tensor(float(scale_init)))

    @property
    def num_subclass_total(self) -> int:
        return sum(self.k_list)

    def prototypes(self) -> Tensor:
        """(K, D) the fixed sub-class prototypes, class-major."""
        return self.bank.flat()

    def forward(self, feats) -> Tuple[Tensor, Tensor]:
        x = feats[self.in_index] if isinstance(feats, (list, tuple)) else feats
        weight = self.adaptive(self.prototypes().to(x.dtype))  # (K, C_s)
        cams = subclass_cams(x, weight, self.scale)
        logits = cams.mean((2, 3))
        return logits, (cams.detach() if self.detach_cam else cams)

    def loss_from_labels(self, logits: Tensor, img_labels: Tensor) -> Dict[str, Tensor]:
        """BCE-with-logits of the merged parent logits (``ClsTerm`` calls it)."""
        parent = merge_subclasses(logits, self.k_list, self.merge_train)
        loss = F.binary_cross_entropy_with_logits(parent, img_labels.to(parent.dtype))
        with torch.no_grad():
            acc = ((parent > 0).to(parent.dtype) == img_labels).to(parent.dtype).mean()
        return {'loss_cls': loss, 'acc_cls': acc}
