from .cam_eval_hook import CAMEvalHook
from .cam_visualization_hook import CAMVisualizationHook
from .checkpoint_hook import ATOMIC_BACKEND, AtomicCheckpointHook, AtomicLocalBackend
from .pseudo_label_hook import PseudoLabelHook

__all__ = [
    'ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend', 'CAMEvalHook',
    'CAMVisualizationHook', 'PseudoLabelHook'
]
