from .cam_label_source import CAMLabelSource

__all__ = ['CAMLabelSource']
