"""Visualizers (mmwsss uses mmseg.SegLocalVisualizer; method-specific ones go here) and the
CAM drawing shared by the tools and hooks."""
from .cam_compare import color_label, draw_cam_comparison, draw_label_row, label_tile
from .cam_overlay import draw_cam_samples, draw_row, overlay_tile, photo_tile, stack_rows

__all__ = [
    'draw_cam_samples', 'draw_row', 'stack_rows', 'overlay_tile', 'photo_tile',
    'draw_cam_comparison', 'color_label', 'label_tile', 'draw_label_row'
]
