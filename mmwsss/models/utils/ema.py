"""EMA copy of a submodule, updated inside the forward pass (ToCo's teacher head).

Whole-model EMA stays with mmengine's ``EMAHook``. Here a part of a model keeps
a teacher copy of ONE submodule, built on mmengine's
:class:`~mmengine.model.ExponentialMovingAverage`, and updates it when the
method's code says so (ToCo: at every forward, before the teacher is used).
"""
import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage
from torch import Tensor


class EMATeacher(nn.Module):
    """A teacher ``t`` of a student submodule ``s``: ``t <- m * t + (1 - m) * s``.

    Args:
        student: the module to average (not copied into this module's
            parameters: the teacher is a deep copy held by mmengine's averaged
            model, with ``requires_grad=False``).
        momentum: the teacher's keep rate m, in the convention of the WSSS
            papers (ToCo: 0.9). mmengine's ``momentum`` is the weight of the NEW
            value, so it receives ``1 - m``.

    The teacher starts as an exact copy of the student (ToCo copies the student
    head into the teacher at construction). mmengine's first
    ``update_parameters`` call would copy again; that is harmless because the
    copies are equal at that point.
    """

    def __init__(self, student: nn.Module, momentum: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'EMA momentum must be in [0, 1], got {momentum}')
        self.momentum = float(momentum)
        self.avg = ExponentialMovingAverage(
            student, momentum=1.0 - self.momentum, update_buffers=False)
        # mmengine counts steps and copies at step 0; we want the official rule
        # from the first update on, and the copy already happened.
        self.avg.steps.fill_(1)
        for p in self.avg.module.parameters():
            p.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        return self.avg.module

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """One EMA step from the student's current weights."""
        self.avg.update_parameters(student)

    def forward(self, x: Tensor) -> Tensor:
        """The teacher's output; no gradient flows into it."""
        with torch.no_grad():
            return self.avg.module(x)
