# Importing the package registers its hooks, optimizers and schedulers
# (the registries' `locations`).
from .hooks import ATOMIC_BACKEND, AtomicCheckpointHook, AtomicLocalBackend
from .optimizers import PolySGD
from .schedulers import PolyWarmupLR, PolyWarmupParamScheduler, poly_warmup_factor

__all__ = [
    'ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend', 'PolySGD', 'PolyWarmupLR',
    'PolyWarmupParamScheduler', 'poly_warmup_factor'
]
