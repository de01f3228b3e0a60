"""Visualizers (mmwsss uses mmseg.SegLocalVisualizer; method-specific ones go here)."""
