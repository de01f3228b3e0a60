"""Visualizers (mmwsss uses mmseg.SegLocalVisualizer; method-specific ones go here) and the
CAM drawing shared by the tools and hooks."""
from .cam_overlay import draw_cam_samples, draw_row, stack_rows

__all__ = ['draw_cam_samples', 'draw_row', 'stack_rows']
