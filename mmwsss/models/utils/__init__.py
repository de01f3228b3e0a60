from .cam import (IGNORE_INDEX, add_background, cam_to_label, check_cams, merge,
                  normalize_cams, scores_to_label)
from .cam_inference import CAM_PRESETS, multi_scale_cams

__all__ = ['IGNORE_INDEX', 'add_background', 'cam_to_label', 'check_cams', 'merge',
           'normalize_cams', 'scores_to_label', 'CAM_PRESETS', 'multi_scale_cams']
