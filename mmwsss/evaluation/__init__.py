from .functional import (DEFAULT_THRESHOLDS, confusion_matrix, format_table, histogram_to_confusion,
                         iou_from_confusion, precision_recall_from_confusion, segmentation_scores,
                         sweep_confusion, threshold_histogram)
from .metrics import CAMMetric

__all__ = [
    'DEFAULT_THRESHOLDS', 'confusion_matrix', 'format_table', 'histogram_to_confusion',
    'iou_from_confusion', 'precision_recall_from_confusion', 'segmentation_scores',
    'sweep_confusion', 'threshold_histogram', 'CAMMetric'
]
