"""SGD as the PSA family builds it, with the PolyOptimizer momentum quirk as an option.

psa, SEAM, CPN, IRN and ACR (``tool|misc/torchutils.py: PolyOptimizer``) call
``torch.optim.SGD.__init__(self, params, lr, weight_decay)`` positionally, so the
value meant as weight decay becomes the MOMENTUM (SEAM/CPN/PSA/ACR: 5e-4, IRN:
1e-4); the only weight decay is the one of each parameter group (ACR passes
``model.parameters()`` without groups and trains with none); the class's own
``momentum=0.9`` is the poly power. The lr rule is a separate part here: pair this
optimizer with mmengine's ``PolyLR(power=0.9, eta_min=0, by_epoch=False)``, which
computes ``lr0 * (1 - step / max_step) ** 0.9`` as the PolyOptimizer does.

``momentum_quirk=False`` (default) is the papers' intent: SGD with ``momentum``
and ``weight_decay`` as written. ``momentum_quirk=True`` reproduces the code:
momentum = ``weight_decay`` and no default weight decay, so only groups that
carry their own ``weight_decay`` (mmengine ``paramwise_cfg`` ``decay_mult`` /
``bias_decay_mult`` write one into each group) decay.
"""
from typing import Iterable

import torch

from mmwsss.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class PolySGD(torch.optim.SGD):
    """``torch.optim.SGD`` with the PSA-family momentum quirk as an option.

    Args:
        params: parameters or parameter groups.
        lr: base learning rate.
        momentum: momentum of the intended optimiser (ignored with the quirk).
        weight_decay: the configured weight decay (with the quirk: the momentum,
            and the default group decay is 0).
        momentum_quirk: reproduce ``SGD(params, lr, weight_decay)`` (see module doc).
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0.9,
                 weight_decay: float = 0.0,
                 momentum_quirk: bool = False,
                 dampening: float = 0.0,
                 nesterov: bool = False) -> None:
        if momentum_quirk:
            momentum, weight_decay = weight_decay, 0.0
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            dampening=dampening,
            nesterov=nesterov)
        self.momentum_quirk = momentum_quirk
