"""Iteration schedules of loss weights and thresholds.

A schedule maps the training iteration to a factor or a value: a loss term's
weight is ``weight * schedule(iter)``; DuPL's per-class dynamic thresholds are a
:class:`CosineDescent` whose end value is a per-class list. Iterations count
from 0 like mmengine's ``runner.iter`` (the official scripts' ``n_iter``).

Registered in ``TASK_UTILS``: ``dict(type='StepOn', start=2000)``.
"""
import math
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from mmwsss.registry import TASK_UTILS

Value = Union[float, Sequence[float]]


def _value(v: Value) -> Union[float, Tensor]:
    return float(v) if isinstance(v, (int, float)) else torch.as_tensor(v, dtype=torch.float32)


class Schedule:
    """Base class: ``__call__(iter) -> float or (C,) tensor``."""

    def __call__(self, it: int):  # pragma: no cover - interface
        raise NotImplementedError


@TASK_UTILS.register_module()
class Constant(Schedule):
    """Always ``value`` (default 1: the term is always on)."""

    def __init__(self, value: Value = 1.0) -> None:
        self.value = _value(value)

    def __call__(self, it: int):
        return self.value


@TASK_UTILS.register_module()
class StepOn(Schedule):
    """``off`` until iteration ``start``, ``on`` from then on.

    Args:
        start: first iteration at which the value is ``on``.
        strict: the official scripts write ``if n_iter <= 2000: w = 0``, so
            the term is first on at iteration 2001. ``strict=True`` (default)
            reproduces that: on when ``it > start``. ``strict=False``: on when
            ``it >= start``.
    """

    def __init__(self, start: int, on: Value = 1.0, off: Value = 0.0, strict: bool = True) -> None:
        self.start = int(start)
        self.on, self.off = _value(on), _value(off)
        self.strict = strict

    def __call__(self, it: int):
        active = it > self.start if self.strict else it >= self.start
        return self.on if active else self.off


@TASK_UTILS.register_module()
class Window(Schedule):
    """``on`` for ``start < it <= end`` (strict, the scripts' ``n_iter`` tests), else ``off``.

    ToCo's COCO script trains the seg head on aux-CAM labels in (8000, 12000]
    and on final-CAM labels after that: two terms with complementary windows.
    """

    def __init__(self, start: int, end: int, on: Value = 1.0, off: Value = 0.0) -> None:
        if end <= start:
            raise ValueError(f'Window needs end > start, got {start}, {end}')
        self.start, self.end = int(start), int(end)
        self.on, self.off = _value(on), _value(off)

    def __call__(self, it: int):
        return self.on if self.start < it <= self.end else self.off


@TASK_UTILS.register_module()
class LinearRamp(Schedule):
    """``begin_value`` until ``begin``, linear to ``end_value`` at ``end``, then constant."""

    def __init__(self,
                 begin: int,
                 end: int,
                 begin_value: Value = 0.0,
                 end_value: Value = 1.0) -> None:
        if end <= begin:
            raise ValueError(f'LinearRamp needs end > begin, got {begin}, {end}')
        self.begin, self.end = int(begin), int(end)
        self.v0, self.v1 = _value(begin_value), _value(end_value)

    def __call__(self, it: int):
        t = min(max((it - self.begin) / (self.end - self.begin), 0.0), 1.0)
        return self.v0 + (self.v1 - self.v0) * t


@TASK_UTILS.register_module()
class CosineDescent(Schedule):
    """Cosine from ``begin_value`` at ``begin`` to ``end_value`` at ``end``.

    ``v(it) = end + 0.5 * (begin_value - end) * (1 + cos(pi * t))``, with
    ``t = (it - begin) / (end - begin)`` clipped to [0, 1]: ``begin_value``
    before ``begin``, ``end_value`` after ``end`` (DuPL's ``cosine_descent``
    of the high threshold from 0.70 to the class targets over 2000-20000).
    """

    def __init__(self, begin: int, end: int, begin_value: Value, end_value: Value) -> None:
        if end <= begin:
            raise ValueError(f'CosineDescent needs end > begin, got {begin}, {end}')
        self.begin, self.end = int(begin), int(end)
        self.v0, self.v1 = _value(begin_value), _value(end_value)

    def __call__(self, it: int):
        t = min(max((it - self.begin) / (self.end - self.begin), 0.0), 1.0)
        return self.v1 + 0.5 * (self.v0 - self.v1) * (1 + math.cos(math.pi * t))


def build_schedule(cfg: Optional[Union[dict, Schedule, float]]) -> Schedule:
    """A schedule from a config dict, a number (constant) or None (always 1)."""
    if cfg is None:
        return Constant(1.0)
    if isinstance(cfg, Schedule):
        return cfg
    if isinstance(cfg, (int, float)):
        return Constant(float(cfg))
    return TASK_UTILS.build(dict(cfg))
