# Importing the package registers its hooks and schedulers (the registries' `locations`).
from .hooks import ATOMIC_BACKEND, AtomicCheckpointHook, AtomicLocalBackend
from .schedulers import PolyWarmupLR, PolyWarmupParamScheduler, poly_warmup_factor

__all__ = [
    'ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend', 'PolyWarmupLR',
    'PolyWarmupParamScheduler', 'poly_warmup_factor'
]
