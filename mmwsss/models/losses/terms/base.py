"""Loss terms of single-stage WSSS models: name, weight, schedule, one forward.

A term reads the :class:`~mmwsss.structures.TrainContext` and returns a dict of
raw losses. The segmentor multiplies every ``loss*`` entry by
``weight * schedule(iter)``, prefixes all keys with the term's name (mmengine's
``add_prefix``) and refuses two terms that produce the same key. Entries
without ``loss`` in their name are logged only (mmengine's convention).
"""
from typing import Dict, Optional, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.structures import TrainContext
from ...utils.schedules import Schedule, build_schedule


class LossTerm(BaseModule):
    """Base class of scheduled loss terms.

    Args:
        name: key prefix of this term's outputs (unique within a model).
        weight: constant factor of every ``loss*`` output.
        schedule: :mod:`~mmwsss.models.utils.schedules` config (``None``:
            always on), multiplied with ``weight``.
        skip_when_off: when the scheduled factor is exactly 0, do not run
            ``compute`` at all and log zeros (saves the time of terms that are
            switched on late, like ToCo's seg/reg terms before iteration 2000).
            Off by default for terms whose side effects matter (EMA updates).

    Subclasses name their raw outputs in ``loss_keys`` so that a skipped step logs the
    same keys as a computed one (mmengine's log would otherwise show a key that
    disappears at the switch-on iteration); terms that do not declare them log
    ``loss_<name>`` while skipped.
    """

    #: the raw ``loss*`` keys :meth:`compute` returns (zeros are logged under them
    #: while the term is skipped).
    loss_keys: Tuple[str, ...] = ()

    def __init__(self,
                 name: str,
                 weight: float = 1.0,
                 schedule: Optional[Union[dict, Schedule, float]] = None,
                 skip_when_off: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not name or '.' in name:
            raise ValueError(f"loss term name must be a non-empty string without '.', "
                             f"got '{name}'")
        self.name = name
        self.weight = float(weight)
        self.schedule = build_schedule(schedule)
        self.skip_when_off = skip_when_off

    def factor(self, it: int) -> float:
        """``weight * schedule(it)`` (a float)."""
        return self.weight * float(self.schedule(it))

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:  # pragma: no cover
        """Raw (unweighted) losses of this term."""
        raise NotImplementedError

    def forward(self, ctx: TrainContext) -> Dict[str, Tensor]:
        """Weighted losses; keys are NOT prefixed yet (the segmentor does it)."""
        factor = self.factor(ctx.iter)
        if factor == 0.0 and self.skip_when_off:
            keys = self.loss_keys or (f'loss_{self.name}', )
            return {k: ctx.inputs.new_zeros(()) for k in keys}
        raw = self.compute(ctx)
        return {k: (v * factor if 'loss' in k else v) for k, v in raw.items()}
