"""Thresholds that may change with the iteration and differ per class.

DuPL (Wu et al., CVPR'24, ``train_final_voc.py``) lowers the CAM high (fg)
threshold of every class by a cosine from 0.70 to a class target over
iterations 2000-20000 and uses, per image, the largest value among the classes
present in the image (``torch.max(high_thres[nonzero(cls_label[i])])``), both
for the PTC label (``cam_to_label_dynamic_cls``) and for the PAR background
score (``refine_cams_with_dynamic_thres``).

A threshold spec here is one of

* a number: a constant threshold;
* a list / tuple of numbers: a constant per-class threshold (C,);
* a schedule config (``dict(type='CosineDescent', ...)``, TASK_UTILS) or a
  :class:`~mmwsss.models.utils.schedules.Schedule`, whose value at the
  iteration is a number or a per-class (C,) tensor.

:class:`Threshold` evaluates a spec at an iteration and reduces a per-class
value to one value per image with :func:`per_image_threshold`.
"""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from .schedules import Schedule, build_schedule

ThresholdSpec = Union[float, Sequence[float], dict, Schedule]

REDUCTIONS = ('max', 'min', 'mean')


def per_image_threshold(values: Union[float, Tensor],
                        img_labels: Tensor,
                        reduce: str = 'max') -> Union[float, Tensor]:
    """Reduce per-class thresholds to one threshold per image.

    ``t_i = reduce_{c : y_ic > 0} values_c`` (DuPL: ``reduce='max'``). An image
    without any present class (which DuPL never sees: its ``torch.max`` of an
    empty tensor would raise) reduces over all classes instead.

    Args:
        values: a float (returned unchanged: the same threshold for every
            image) or a (C,) tensor of per-class thresholds.
        img_labels: (B, C) multi-hot image labels.
        reduce: ``'max'`` | ``'min'`` | ``'mean'`` over the present classes.
    Returns:
        the float, or a (B,) float tensor on ``img_labels``' device.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f'reduce must be one of {REDUCTIONS}, got {reduce!r}')
    if not isinstance(values, Tensor) or values.dim() == 0:
        return float(values)
    if values.dim() != 1 or img_labels.dim() != 2 or values.numel() != img_labels.shape[1]:
        raise ValueError(f'per-class thresholds {tuple(values.shape)} do not match image '
                         f'labels {tuple(img_labels.shape)}')
    vals = values.to(device=img_labels.device, dtype=torch.float32)
    present = img_labels > 0
    present = torch.where(present.any(1, keepdim=True), present, torch.ones_like(present))
    rows = vals.expand(img_labels.shape[0], -1)
    if reduce == 'max':
        return rows.masked_fill(~present, float('-inf')).max(1)[0]
    if reduce == 'min':
        return rows.masked_fill(~present, float('inf')).min(1)[0]
    return (rows * present).sum(1) / present.sum(1)


class Threshold:
    """A threshold spec (see the module docstring) evaluated per iteration and image.

    Args:
        spec: number, per-class list, schedule config or schedule.
        reduce: per-class -> per-image reduction (:func:`per_image_threshold`).
    """

    def __init__(self, spec: ThresholdSpec, reduce: str = 'max') -> None:
        if reduce not in REDUCTIONS:
            raise ValueError(f'reduce must be one of {REDUCTIONS}, got {reduce!r}')
        self.reduce = reduce
        self.spec = spec
        if isinstance(spec, (int, float)):
            self._const: Optional[Union[float, Tensor]] = float(spec)
            self._schedule = None
        elif isinstance(spec, (list, tuple)):
            self._const = torch.as_tensor([float(v) for v in spec], dtype=torch.float32)
            self._schedule = None
        else:
            self._const = None
            self._schedule = build_schedule(spec)

    @property
    def is_constant(self) -> bool:
        """True for a plain number (no iteration, no class dependence)."""
        return isinstance(self._const, float)

    def value(self, it: int) -> Union[float, Tensor]:
        """The threshold at iteration ``it``: a float or a (C,) tensor."""
        if self._schedule is None:
            return self._const
        return self._schedule(it)

    def __call__(self, it: int, img_labels: Tensor) -> Union[float, Tensor]:
        """Float, or (B,) per-image tensor, at iteration ``it``."""
        return per_image_threshold(self.value(it), img_labels, self.reduce)

    def __repr__(self) -> str:
        return f'Threshold({self.spec!r}, reduce={self.reduce!r})'
