from .checkpoint_hook import ATOMIC_BACKEND, AtomicCheckpointHook, AtomicLocalBackend

__all__ = ['ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend']
