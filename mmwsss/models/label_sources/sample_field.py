"""Offline labels of a stage-2 method as a label source: a pixel field of the data samples.

Stage-2 methods on top of the chassis (BECO) train on labels written offline (pseudo
label PNG, confidence mask PNG) and loaded by the data pipeline into the data samples
(``gt_sem_seg``, ``gt_conf_mask``); a batch mixer may replace them by mixed ones
(``gt_boundary`` of BECO's ClassMix). :class:`SampleFieldSource` stacks one such field
into ``ctx.pseudo[name]`` so loss terms read it like any other pseudo label.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext

__all__ = ['SampleFieldSource']

_DTYPES = dict(long=torch.long, float=torch.float32, uint8=torch.uint8)


@MODELS.register_module()
class SampleFieldSource(BaseModule):
    """``ctx.pseudo[name]`` = the (B, H, W) stack of ``data_sample.<field>.data[0]``.

    Args:
        field: the data-sample pixel field (``gt_sem_seg``, ``gt_conf_mask``, ...).
        dtype: ``'long'`` (labels, masks) or ``'float'`` (weights, boundary maps).
        default: value of the whole map for samples without the field (None: error);
            BECO's boundary map is 0 when no mixer ran.
        pad_value: maps smaller than the network input (batch padding of the data
            preprocessor, which pads only ``gt_sem_seg``) are padded right / bottom
            with this value; None: a size mismatch is an error.
    """

    def __init__(self,
                 field: str = 'gt_sem_seg',
                 dtype: str = 'long',
                 default: Optional[float] = None,
                 pad_value: Optional[float] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if dtype not in _DTYPES:
            raise ValueError(f'dtype must be one of {sorted(_DTYPES)}, got {dtype!r}')
        self.field = field
        self.dtype = _DTYPES[dtype]
        self.default = default
        self.pad_value = pad_value

    @torch.no_grad()
    def forward(self, ctx: TrainContext) -> Tensor:
        size = tuple(ctx.inputs.shape[-2:])
        device = ctx.inputs.device
        maps = []
        for s in ctx.data_samples:
            if self.field in s:
                m = getattr(s, self.field).data
                m = m[0] if m.dim() == 3 else m
                m = m.to(device=device, dtype=self.dtype)
            elif self.default is not None:
                m = torch.full(size, self.default, dtype=self.dtype, device=device)
            else:
                raise KeyError(f"data sample {s.metainfo.get('img_path', '')} has no "
                               f"'{self.field}' (label source field={self.field!r})")
            if tuple(m.shape) != size:
                h, w = m.shape
                if self.pad_value is None or h > size[0] or w > size[1]:
                    raise ValueError(f"'{self.field}' is {h}x{w} but the input is "
                                     f'{size[0]}x{size[1]}')
                m = F.pad(m, (0, size[1] - w, 0, size[0] - h), value=self.pad_value)
            maps.append(m)
        return torch.stack(maps)
