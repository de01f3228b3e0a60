from .cam import (IGNORE_INDEX, add_background, cam_to_label, check_cams, labels_with_bg, merge,
                  normalize_cams, scores_to_label)
from .cam_inference import CAM_PRESETS, multi_scale_cams

__all__ = [
    'IGNORE_INDEX', 'add_background', 'cam_to_label', 'check_cams', 'labels_with_bg', 'merge',
    'normalize_cams', 'scores_to_label', 'CAM_PRESETS', 'multi_scale_cams'
]
from .classifier_transfer import ClassifierTransferInit, resolve_class_map, transfer_classifier_rows
from .imagenet_class_map import COCO_TO_IMAGENET, IMAGENET_CLASS_MAPS, VOC_TO_IMAGENET

__all__ += [
    'ClassifierTransferInit', 'resolve_class_map', 'transfer_classifier_rows',
    'IMAGENET_CLASS_MAPS', 'VOC_TO_IMAGENET', 'COCO_TO_IMAGENET'
]
from .roi_crops import cam_to_roi_mask, crop_from_roi_neg

__all__ += ['cam_to_roi_mask', 'crop_from_roi_neg']
from .seg_inference import multi_scale_seg_logits

__all__ += ['multi_scale_seg_logits']
