"""High-level entry points (used by the tools and the engine hooks)."""
from .pseudo_labels import generate_pseudo_labels, write_pseudo_labels

__all__ = ['generate_pseudo_labels', 'write_pseudo_labels']
