from .cam_metric import CAMMetric

__all__ = ['CAMMetric']
