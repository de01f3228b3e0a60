"""ToCo's ``PolyWarmupAdamW`` learning-rate rule as an mmengine parameter scheduler.

ToCo (``utils/optimizer.py``) sets, before the optimiser step of iteration n
(0-based), for every parameter group with initial lr ``lr0``::

    n <  warmup_iters:  lr = lr0 * (1 - (1 - n / warmup_iters) * (1 - warmup_ratio))
    n <  max_iters:     lr = lr0 * (1 - n / max_iters) ** power

The poly part counts from iteration 0, not from the end of the warm-up, so
mmengine's ``LinearLR`` + ``PolyLR(begin=warmup)`` chain is NOT the same rule
(it restarts the poly decay at 1.0 after the warm-up; ToCo's factor there is
(1 - 1500/20000) ** 0.9 = 0.932). The optimiser itself is plain AdamW
(``optim_wrapper.optimizer = dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999),
weight_decay=0.01)``) with the x10 groups from ``paramwise_cfg``.
"""
from typing import List

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmwsss.registry import PARAM_SCHEDULERS


def poly_warmup_factor(it: int, warmup_iters: int, warmup_ratio: float, max_iters: int,
                       power: float) -> float:
    """ToCo's lr multiplier at iteration ``it`` (see the module docstring)."""
    if it < warmup_iters:
        return 1 - (1 - it / warmup_iters) * (1 - warmup_ratio)
    if it < max_iters:
        return (1 - it / max_iters)**power
    return 0.0


class PolyWarmupParamScheduler(_ParamScheduler):
    """Closed-form ToCo warm-up + poly schedule of any optimiser parameter.

    Args:
        warmup_iters: linear warm-up length (ToCo 1500).
        warmup_ratio: the factor at iteration 0 (ToCo ``warmup_lr`` 1e-6).
        max_iters: iteration at which the factor reaches 0 (ToCo 20000).
        power: poly power (ToCo 0.9).
    """

    def __init__(self,
                 optimizer,
                 param_name: str,
                 warmup_iters: int = 1500,
                 warmup_ratio: float = 1e-6,
                 max_iters: int = 20000,
                 power: float = 0.9,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if warmup_iters < 0 or max_iters <= 0 or warmup_iters > max_iters:
            raise ValueError(f'need 0 <= warmup_iters <= max_iters and max_iters > 0, got '
                             f'warmup_iters={warmup_iters}, max_iters={max_iters}')
        if by_epoch:
            raise ValueError('PolyWarmupLR counts iterations: set by_epoch=False')
        self.warmup_iters = int(warmup_iters)
        self.warmup_ratio = float(warmup_ratio)
        self.max_iters = int(max_iters)
        self.power = float(power)
        super().__init__(
            optimizer,
            param_name=param_name,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    def _get_value(self) -> List[float]:
        f = poly_warmup_factor(self.last_step, self.warmup_iters, self.warmup_ratio, self.max_iters,
                               self.power)
        return [base * f for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class PolyWarmupLR(LRSchedulerMixin, PolyWarmupParamScheduler):
    """:class:`PolyWarmupParamScheduler` of the learning rate (ToCo, DuPL, MoRe)."""
