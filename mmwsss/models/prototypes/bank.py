"""A prototype store shared by the prototype family.

The prototype methods differ in how a prototype is made and agree on how it is kept:
a (C, S, D) table -- ``num_classes`` classes, ``num_slots`` slots per class (1 for
class-wise prototypes, N for a queue or for local cluster centres), ``dim`` channels --
that is written only for the classes an image's labels say are present, identical on every
rank, saved in checkpoints and compared with pixel features by cosine similarity.

Update rules (``update=``):

    ``'momentum'``   ``p = m * p + (1 - m) * new``; the first write of a slot copies
                     ``new`` (``first_write='copy'``) or blends with the initial value
                     (``'blend'``).
    ``'fifo'``       a per-class ring buffer: ``new`` goes to slot ``ptr[c]``, then
                     ``ptr[c] = (ptr[c] + 1) % S``. ``fifo_blend=b`` writes
                     ``b * slot + (1 - b) * new`` into the overwritten slot instead of
                     ``new`` -- RCA's ``_dequeue_and_enqueue`` (maeve07/RCA models/rca.py:
                     ``queue[ptr] = queue[ptr] * 0.99 + embedding * 0.01``, b = 0.99).
    ``'keep_last'``  present classes are overwritten, absent ones keep their value
                     (WDASS ``get_prototypes``: no momentum, ``alpha`` unused).
    ``'fixed'``      offline centres loaded from a file (``path=`` or :meth:`load`);
                     writing raises.

Within one :meth:`write`, ``batch_reduce='sequential'`` applies the present entries one
by one in batch order (rank 0's images first after the gather), as RCA's per-image loop
does; ``'mean'`` first averages each class's present entries over the batch and writes
once (a batch-level class prototype). FIFO is always sequential (one slot per entry).

Buffers (all persistent, so checkpoints resume the bank exactly): ``protos`` (C, S, D),
``count`` (C, S) how often each slot was written (``valid = count > 0``), ``ptr`` (C,)
the FIFO pointers.
"""
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

from mmwsss.registry import MODELS
from .functional import cosine_maps

UPDATES = ('momentum', 'fifo', 'keep_last', 'fixed')
INITS = ('zeros', 'randn')
REDUCES = ('mean', 'max', None)


def load_prototype_file(path: str) -> Tensor:
    """Read offline prototypes from ``.npy`` / ``.npz`` / ``.pt`` / ``.pth`` without pickle
    that could run code.

    ``.npy``: ``np.load(allow_pickle=False)``. ``.npz``: the single array or the one named
    ``protos`` / ``centers`` / ``centres`` (mmwsss.utils.io.load_npz, no pickle). ``.pt`` /
    ``.pth``: ``torch.load(weights_only=True)`` of a tensor, or of a dict with one of those
    keys.

    Returns:
        a float32 tensor (shape checked by the caller).
    Raises:
        FileNotFoundError / ValueError naming ``path``.
    """
    from mmwsss.utils.io import load_npz
    if not osp.isfile(path):
        raise FileNotFoundError(f'prototype file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    keys = ('protos', 'centers', 'centres')
    if ext == '.npy':
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise ValueError(f'prototype file {path}: not a numeric .npy array ({e}); '
                             'object arrays (pickle) are refused') from None
        return torch.from_numpy(np.asarray(array, dtype=np.float32))
    if ext == '.npz':
        data = load_npz(path, 'prototype file')
        name = next((k for k in keys if k in data), None)
        if name is None:
            if len(data) != 1:
                raise ValueError(f'prototype file {path} holds {sorted(data)}; expected one '
                                 f'array or one named {keys}')
            name = next(iter(data))
        return torch.from_numpy(np.asarray(data[name], dtype=np.float32))
    if ext in ('.pt', '.pth'):
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # an unsafe pickle, a truncated file
            raise ValueError(f'prototype file {path} cannot be read with weights_only=True '
                             f'({type(e).__name__}: {e})') from None
        if isinstance(obj, dict):
            name = next((k for k in keys if k in obj), None)
            if name is None:
                raise ValueError(f'prototype file {path}: a dict without any of {keys} '
                                 f'(has {sorted(map(str, obj))})')
            obj = obj[name]
        if not isinstance(obj, (Tensor, np.ndarray)):
            raise ValueError(f'prototype file {path} holds {type(obj).__name__}, not a tensor')
        return torch.as_tensor(obj, dtype=torch.float32)
    raise ValueError(f'prototype file {path}: unknown extension {ext!r} (.npy, .npz, .pt, .pth)')


def _gather_rows(*tensors: Tensor) -> Tuple[Tensor, ...]:
    """Concatenate every rank's tensors along dim 0 in rank order (a no-op on one process).

    Ranks may hold different batch sizes (the last batch): each pads to the largest size,
    gathers with ``mmengine.dist.all_gather`` and drops the padding.
    """
    if dist.get_world_size() <= 1:
        return tensors
    n = torch.tensor([tensors[0].shape[0]], device=tensors[0].device)
    sizes = [int(s) for s in dist.all_gather(n)]
    top = max(sizes)
    out = []
    for t in tensors:
        pad = t.new_zeros((top - t.shape[0], ) + tuple(t.shape[1:]))
        parts = dist.all_gather(torch.cat([t, pad], 0).contiguous())
        out.append(torch.cat([p[:s] for p, s in zip(parts, sizes)], 0))
    return tuple(out)


@MODELS.register_module()
class PrototypeBank(nn.Module):
    """Label-masked prototype store with the update rules of the prototype family.

    Args:
        num_classes: C, the classes with prototypes (foreground classes for most methods).
        dim: D, the feature channels.
        num_slots: S per class: 1 class-wise, N for a queue / local clusters.
        update: one of ``UPDATES`` (see the module doc).
        momentum: m of ``'momentum'``.
        first_write: ``'copy'`` (a never-written slot takes the new value) or ``'blend'``.
        fifo_blend: None (plain FIFO: the slot is replaced) or b (RCA: ``b*slot + (1-b)*new``).
        batch_reduce: ``'sequential'`` or ``'mean'`` (see the module doc).
        init: initial ``protos``: ``'zeros'`` or ``'randn'`` (RCA's ``torch.randn`` queues),
            drawn from a generator seeded with ``init_seed`` so that every rank starts equal.
        init_seed: the seed of ``'randn'``.
        path: a file of fixed centres (``update='fixed'``), (C, S, D), or (C, D) when S == 1.
        gather: gather the writes of all ranks first (distributed training).
    """

    def __init__(self,
                 num_classes: int,
                 dim: int,
                 num_slots: int = 1,
                 update: str = 'momentum',
                 momentum: float = 0.9,
                 first_write: str = 'copy',
                 fifo_blend: Optional[float] = None,
                 batch_reduce: str = 'sequential',
                 init: str = 'zeros',
                 init_seed: int = 0,
                 path: Optional[str] = None,
                 gather: bool = True) -> None:
        super().__init__()
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got '{update}'")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got '{init}'")
        if first_write not in ('copy', 'blend'):
            raise ValueError(f"first_write must be 'copy' or 'blend', got '{first_write}'")
        if batch_reduce not in ('sequential', 'mean'):
            raise ValueError(f"batch_reduce must be 'sequential' or 'mean', got '{batch_reduce}'")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'momentum must be in [0, 1], got {momentum}')
        if fifo_blend is not None and update != 'fifo':
            raise ValueError("fifo_blend is an option of update='fifo'")
        if update == 'fixed' and path is None:
            raise ValueError("update='fixed' needs path= (a .npy / .npz / .pt file of centres)")
        self.num_classes = int(num_classes)
        self.dim = int(dim)
        self.num_slots = int(num_slots)
        self.update = update
        self.momentum = float(momentum)
        self.first_write = first_write
        self.fifo_blend = fifo_blend
        self.batch_reduce = batch_reduce
        self.gather = gather
        shape = (self.num_classes, self.num_slots, self.dim)
        if init == 'randn':
            gen = torch.Generator().manual_seed(int(init_seed))
            protos = torch.randn(shape, generator=gen)
        else:
            protos = torch.zeros(shape)
        self.register_buffer('protos', protos)
        self.register_buffer('count', torch.zeros(shape[:2], dtype=torch.long))
        self.register_buffer('ptr', torch.zeros(self.num_classes, dtype=torch.long))
        if path is not None:
            self.load(path)

    # ------------------------------------------------------------------ reading
    @property
    def valid(self) -> Tensor:
        """(C, S) bool: slots written at least once (or loaded)."""
        return self.count > 0

    def flat(self) -> Tensor:
        """(C * S, D) all slots, class-major (class c's slots are rows c*S ... c*S+S-1)."""
        return self.protos.reshape(-1, self.dim)

    def slot_labels(self) -> Tensor:
        """(C * S,) the class of every row of :meth:`flat`."""
        return torch.arange(
            self.num_classes, device=self.protos.device).repeat_interleave(self.num_slots)

    def similarity(self,
                   feats: Tensor,
                   reduce: Optional[str] = 'mean',
                   valid_only: bool = True) -> Tensor:
        """Cosine maps of pixel features with the prototypes.

        Args:
            feats: (B, D, h, w).
            reduce: over the S slots of a class: ``'mean'``, ``'max'`` or None (no reduction).
            valid_only: ignore never-written slots in the reduction; a class without any
                gets 0 (with ``reduce=None`` the maps of such slots are 0).
        Returns:
            (B, C, h, w), or (B, C, S, h, w) with ``reduce=None``.
        """
        if reduce not in REDUCES:
            raise ValueError(f'reduce must be one of {REDUCES}, got {reduce!r}')
        b, _, h, w = feats.shape
        sims = cosine_maps(feats, self.flat().to(feats.dtype))
        sims = sims.view(b, self.num_classes, self.num_slots, h, w)
        if not valid_only:
            mask = None
        else:
            mask = self.valid.view(1, self.num_classes, self.num_slots, 1, 1)
        if reduce is None:
            return sims if mask is None else sims * mask.to(sims.dtype)
        if reduce == 'max':
            if mask is None:
                return sims.max(2).values
            out = sims.masked_fill(~mask, float('-inf')).max(2).values
            return torch.where(torch.isinf(out), torch.zeros_like(out), out)
        if mask is None:
            return sims.mean(2)
        m = mask.to(sims.dtype)
        return (sims * m).sum(2) / m.sum(2).clamp(min=1)

    # ------------------------------------------------------------------ writing
    @torch.no_grad()
    def write(self, protos: Tensor, present: Tensor) -> None:
        """Write the prototypes of the present classes.

        Args:
            protos: (B, C, D) per-image class embeddings, or (B, C, S, D) slot-wise values
                (``'momentum'`` / ``'keep_last'`` with S > 1, e.g. per-image clusters).
            present: (B, C) bool / {0, 1} image labels; absent entries are never written.
        """
        if self.update == 'fixed':
            raise RuntimeError("PrototypeBank(update='fixed') holds loaded centres; write() "
                               'is not allowed')
        protos = protos.detach().to(self.protos.dtype)
        present = present.detach().bool()
        b, c = present.shape
        if protos.shape[:2] != (b, c) or c != self.num_classes or protos.shape[-1] != self.dim:
            raise ValueError(f'protos must be (B, {self.num_classes}, {self.dim}) or (B, '
                             f'{self.num_classes}, {self.num_slots}, {self.dim}) with present '
                             f'(B, {self.num_classes}); got {tuple(protos.shape)} and '
                             f'{tuple(present.shape)}')
        if protos.dim() == 4:
            if self.update == 'fifo' or protos.shape[2] != self.num_slots:
                raise ValueError(f'slot-wise writes (B, C, S, D) need S = {self.num_slots} and '
                                 f"update 'momentum' / 'keep_last', got {tuple(protos.shape)}")
        elif protos.dim() != 3:
            raise ValueError(f'protos must be 3-d or 4-d, got {tuple(protos.shape)}')
        protos = protos.to(self.protos.device)
        present = present.to(self.protos.device)
        if self.gather:
            protos, present = _gather_rows(protos, present)
        if self.update == 'fifo':
            self._write_fifo(protos, present)
            return
        if protos.dim() == 3:  # one value for every slot of the class
            protos = protos.unsqueeze(2).expand(-1, -1, self.num_slots, -1)
        if self.batch_reduce == 'mean':
            w = present.to(protos.dtype)[..., None, None]
            n = w.sum(0)
            protos = ((protos * w).sum(0) / n.clamp(min=1)).unsqueeze(0)
            present = (n[..., 0, 0] > 0).unsqueeze(0)
        for i in range(protos.shape[0]):
            self._write_one(protos[i], present[i])

    def _write_one(self, value: Tensor, present: Tensor) -> None:
        # value (C, S, D), present (C,): one image's (or one batch's) write
        cls = present.nonzero(as_tuple=True)[0]
        if cls.numel() == 0:
            return
        new = value[cls]
        if self.update == 'keep_last':
            self.protos[cls] = new
        else:
            old = self.protos[cls]
            blended = self.momentum * old + (1.0 - self.momentum) * new
            if self.first_write == 'copy':
                fresh = (self.count[cls] == 0)[..., None]
                blended = torch.where(fresh, new, blended)
            self.protos[cls] = blended
        self.count[cls] += 1

    def _write_fifo(self, protos: Tensor, present: Tensor) -> None:
        # batch order, then class order: what RCA's per-image loop over classes does
        for i, c in present.nonzero().tolist():
            p = int(self.ptr[c])
            if self.fifo_blend is None:
                self.protos[c, p] = protos[i, c]
            else:
                b = float(self.fifo_blend)
                self.protos[c, p] = b * self.protos[c, p] + (1.0 - b) * protos[i, c]
            self.count[c, p] += 1
            self.ptr[c] = (p + 1) % self.num_slots

    @torch.no_grad()
    def load(self, path: str) -> None:
        """Load fixed centres from ``path`` ((C, S, D), or (C, D) when S == 1); all slots
        become valid. Raises ValueError naming the file for a wrong shape."""
        value = load_prototype_file(path)
        want = (self.num_classes, self.num_slots, self.dim)
        if value.dim() == 2 and self.num_slots == 1:
            value = value.unsqueeze(1)
        if tuple(value.shape) != want:
            raise ValueError(f'prototype file {path} holds shape {tuple(value.shape)}; this '
                             f'bank needs {want} (num_classes, num_slots, dim)' +
                             (f' or {(self.num_classes, self.dim)}' if self.num_slots == 1 else ''))
        self.protos.copy_(value.to(self.protos))
        self.count.fill_(1)

    # ------------------------------------------------------------------ clustering
    @torch.no_grad()
    def cluster(self,
                k: int,
                seed: int = 0,
                normalize: bool = False,
                valid_only: bool = False,
                n_init: int = 10) -> Tensor:
        """scikit-learn KMeans per class over the class's slots (RCA: 10 per class per epoch).

        Args:
            k: clusters per class.
            seed: ``random_state`` of every KMeans (the official RCA seeds nothing).
            normalize: L2-normalise the slots first (cosine k-means).
            valid_only: cluster only written slots (RCA clusters the whole queue, random
                initial rows included). A class with fewer than k rows gets its rows
                repeated cyclically (zeros if it has none).
            n_init: KMeans restarts; 10 was scikit-learn's default when RCA was released
                (it became 'auto' = 1 in 1.4).
        Returns:
            (C, k, D) centres on the bank's device and dtype.
        """
        from sklearn.cluster import KMeans
        out = torch.zeros(self.num_classes, k, self.dim)
        data = self.protos.detach().float().cpu()
        if normalize:
            data = torch.nn.functional.normalize(data, dim=-1)
        valid = self.valid.cpu()
        for c in range(self.num_classes):
            rows = data[c][valid[c]] if valid_only else data[c]
            if rows.shape[0] == 0:
                continue
            if rows.shape[0] < k:
                idx = torch.arange(k) % rows.shape[0]
                out[c] = rows[idx]
                continue
            km = KMeans(n_clusters=k, random_state=seed + c, n_init=n_init)
            km.fit(rows.numpy().astype(np.float64))
            out[c] = torch.from_numpy(km.cluster_centers_).float()
        return out.to(self.protos)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, dim={self.dim}, num_slots={self.num_slots}, '
                f"update='{self.update}'")


__all__: List[str] = ['PrototypeBank', 'load_prototype_file']
