from .base import BaseRefiner, RefineChain, RefineState, check_state, final_label

__all__ = ['BaseRefiner', 'RefineChain', 'RefineState', 'check_state', 'final_label']
