"""RCA's heads (Zhou et al., CVPR'22; maeve07/RCA ``models/rca.py::RCAModel``).

``RCAHead`` is the fine branch: semantic aggregation over the memory's cluster centres,
then one small head per class; it also owns the regional memory (a
:class:`~mmwsss.models.prototypes.PrototypeBank` of per-class FIFO queues), the cluster
centres and the contrast projection ``extra_F``. ``RCACoarseHead`` is the coarse branch on
the raw features (``map_coarse``), whose softmax gives the region masks.

Submodule names follow the official code (``extra_convs``, ``extra_F``, ``Q``, ``K``,
``V``, ``aggre``, ``concat_project``) because its learning rates depend on them: every
parameter whose name holds ``extra`` gets 10x (weights) / 20x (biases), the rest 1x / 2x.
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..prototypes.bank import PrototypeBank


def _pick(inputs: Union[Tensor, Sequence[Tensor]], in_index: int) -> Tensor:
    return inputs[in_index] if isinstance(inputs, (list, tuple)) else inputs


def _official_init(module: nn.Module) -> None:
    # RCAModel.__init__: every Conv2d weight ~ N(0, 0.01) (biases keep torch's default),
    # BN weight 1 / bias 0; Linear layers (K, V) keep torch's default
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data.normal_(0, 0.01)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


def rca_aggregate(x: Tensor, centres: Tensor, q: nn.Module, k: nn.Module, v: nn.Module,
                  scale: float) -> Tensor:
    """RCA's semantic aggregation read-out ``(q(x) k(c)^T * scale) v(c)`` (no softmax).

    Args:
        x: (B, D, h, w) features. centres: (N, D) detached memory centres (C * k).
        q: 1x1 conv D -> E. k, v: Linear D -> E.
        scale: the official ``/ cluter_num * 20`` = 20 / 10 = 2.
    Returns:
        (B, E, h, w).
    """
    b, _, h, w = x.shape
    query = q(x).flatten(2).transpose(1, 2)  # (B, hw, E)
    sim = torch.matmul(query, k(centres).t()) * scale  # (B, hw, N)
    out = torch.matmul(sim, v(centres))  # (B, hw, E)
    return out.transpose(1, 2).reshape(b, -1, h, w)


def _class_head(in_channels: int, channels: int, out_channels: int, num_convs: int) -> nn.Module:
    """``num_convs`` x (conv3x3-``channels`` + ReLU), then conv1x1 -> ``out_channels``.

    Layers are named ``extra_conv<i>`` / ``extra_score`` so that the official lr rule
    (biases of 'extra' parameters 20x) can be written as mmengine ``custom_keys``
    (``extra_conv1.bias`` ...).
    """
    layers = OrderedDict()
    for i in range(num_convs):
        layers[f'extra_conv{i + 1}'] = nn.Conv2d(
            in_channels if i == 0 else channels, channels, 3, padding=1)
        layers[f'relu{i + 1}'] = nn.ReLU(True)
    layers['extra_score'] = nn.Conv2d(channels if num_convs else in_channels, out_channels, 1)
    return nn.Sequential(layers)


class _MultiLabelHead(BaseModule):
    """What the chassis asks of a CAM head: ``num_classes``, ``(logits, cams)`` from one
    forward, ``loss_from_labels`` for :class:`ClsTerm`."""

    def __init__(self, num_classes: int, loss_decode: dict, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.loss_decode = MODELS.build(loss_decode)

    def loss_from_labels(self, logits: Tensor, target: Tensor) -> dict:
        losses = {self.loss_decode.loss_name: self.loss_decode(logits, target)}
        with torch.no_grad():
            losses['acc_cls'] = ((logits > 0).float() == target).float().mean() * 100
        return losses


@MODELS.register_module()
class RCACoarseHead(_MultiLabelHead):
    """``extra_convs``: ``num_convs`` x (conv3x3 + ReLU) then conv1x1 -> C; logits = GAP.

    Shapes: features (B, in_channels, h, w) -> logits (B, C), cams (B, C, h, w).
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_classes: int = 20,
                 channels: int = 512,
                 num_convs: int = 3,
                 in_index: int = -1,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes, loss_decode, init_cfg)
        self.in_index = in_index
        self.extra_convs = _class_head(in_channels, channels, num_classes, num_convs)
        _official_init(self)

    def forward(self, inputs) -> Tuple[Tensor, Tensor]:
        cams = self.extra_convs(_pick(inputs, self.in_index))
        return cams.mean(dim=(2, 3)), cams


@MODELS.register_module()
class RCAHead(_MultiLabelHead):
    """RCA's fine branch with the regional memory.

    ``x' = concat_project([x, aggre(rca_aggregate(x, centres))])``, then class c's map is
    ``extra_convs_c(x')`` (``num_convs`` x conv3x3-``channels`` + ReLU, conv1x1 -> 1).

    Args:
        in_channels: D, the backbone feature channels (memory and projection dims too).
        num_classes: C (20 for VOC: the official code hard-codes 20).
        channels: width of each per-class head (512).
        num_convs: 3x3 convs per class head (3).
        inter_channels: width of Q / K / V (512).
        num_clusters: k centres per class (10).
        queue_len: S memory slots per class (500).
        write_blend: RCA's ``queue[ptr] = 0.99 queue[ptr] + 0.01 emb`` (the bank's
            ``fifo_blend``); None: a plain FIFO that replaces the slot.
        agg_scale: the similarity factor (``/ cluter_num * 20`` = 2 in the code).
        iters_per_epoch: clustering runs at the first training forward of every epoch >= 1
            (the official ``index == 0 and epoch > 0``); None: only by
            :meth:`update_clusters`.
        cluster_seed / cluster_n_init / cluster_normalize: KMeans ``random_state`` (the
            official code seeds nothing), restarts (10, scikit-learn's default then), and
            L2-normalising the queue first (False: the code clusters raw rows).
        memory_seed: the seed of the ``randn`` initial queues and centres (official: the
            global RNG).
        in_index: which backbone output to read.
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_classes: int = 20,
                 channels: int = 512,
                 num_convs: int = 3,
                 inter_channels: int = 512,
                 num_clusters: int = 10,
                 queue_len: int = 500,
                 write_blend: Optional[float] = 0.99,
                 agg_scale: float = 2.0,
                 iters_per_epoch: Optional[int] = None,
                 cluster_seed: int = 0,
                 cluster_n_init: int = 10,
                 cluster_normalize: bool = False,
                 memory_seed: int = 0,
                 in_index: int = -1,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes, loss_decode, init_cfg)
        d, c = in_channels, num_classes
        self.in_index = in_index
        self.num_clusters = num_clusters
        self.agg_scale = float(agg_scale)
        self.iters_per_epoch = iters_per_epoch
        self.cluster_seed = cluster_seed
        self.cluster_n_init = cluster_n_init
        self.cluster_normalize = cluster_normalize
        self.Q = nn.Conv2d(d, inter_channels, 1)
        self.K = nn.Linear(d, inter_channels)
        self.V = nn.Linear(d, inter_channels)
        self.aggre = nn.Conv2d(inter_channels, d, 1)
        self.concat_project = nn.Conv2d(2 * d, d, 1)
        # one head per class, as the official extra_convs0..19 (a grouped-conv stack is the
        # same function, but its backward is ~40x slower on CPU)
        self.extra_convs = nn.ModuleList([_class_head(d, channels, 1, num_convs) for _ in range(c)])
        # the contrast projection mid = extra_F(x): its output is compared with raw-x memory
        self.extra_F = nn.Sequential(
            nn.Conv2d(d, d, 3, padding=1), nn.BatchNorm2d(d), nn.ReLU(True),
            nn.Conv2d(d, d, 3, padding=1))
        _official_init(self)
        self.memory = PrototypeBank(
            num_classes=c,
            dim=d,
            num_slots=queue_len,
            update='fifo',
            fifo_blend=write_blend,
            init='randn',
            init_seed=memory_seed)
        gen = torch.Generator().manual_seed(int(memory_seed) + 1)
        self.register_buffer('centres', torch.randn(c, num_clusters, d, generator=gen))
        # the epoch whose clustering is done (-1: none), saved so a resumed run does not
        # cluster twice in one epoch or skip one
        self.register_buffer('cluster_epoch', torch.tensor(-1, dtype=torch.long))

    # ---------------------------------------------------------------- memory
    @torch.no_grad()
    def update_clusters(self) -> None:
        """KMeans (k = ``num_clusters``) on every class queue -> ``centres`` (C, k, D)."""
        self.centres.copy_(
            self.memory.cluster(
                self.num_clusters,
                seed=self.cluster_seed,
                normalize=self.cluster_normalize,
                n_init=self.cluster_n_init))

    def _maybe_cluster(self) -> None:
        if not self.training or not self.iters_per_epoch:
            return
        it = int(MessageHub.get_current_instance().get_info('iter', 0) or 0)
        epoch = it // int(self.iters_per_epoch)
        if epoch >= 1 and epoch > int(self.cluster_epoch):
            self.update_clusters()
            self.cluster_epoch.fill_(epoch)

    def project(self, x: Tensor) -> Tensor:
        """``mid = extra_F(x)``: (B, D, h, w) -> (B, D, h, w), the contrast anchors."""
        return self.extra_F(x)

    # ---------------------------------------------------------------- forward
    def forward(self, inputs) -> Tuple[Tensor, Tensor]:
        """``(logits (B, C) = GAP(map), map (B, C, h, w))``."""
        self._maybe_cluster()
        x = _pick(inputs, self.in_index)
        centres = self.centres.reshape(-1, self.centres.shape[-1]).detach().to(x.dtype)
        agg = self.aggre(rca_aggregate(x, centres, self.Q, self.K, self.V, self.agg_scale))
        x = self.concat_project(torch.cat([x, agg], 1))
        cams = torch.cat([head(x) for head in self.extra_convs], 1)
        return cams.mean(dim=(2, 3)), cams

    def predict(self, inputs, batch_img_metas, test_cfg=None) -> Tensor:
        cams = F.relu(self.forward(inputs)[1])
        size = batch_img_metas[0].get('pad_shape') or batch_img_metas[0]['img_shape']
        return F.interpolate(cams, size=size[:2], mode='bilinear', align_corners=False)
