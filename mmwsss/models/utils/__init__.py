from .cam import (IGNORE_INDEX, add_background, cam_to_label, check_cams, merge,
                  normalize_cams, scores_to_label)

__all__ = ['IGNORE_INDEX', 'add_background', 'cam_to_label', 'check_cams', 'merge',
           'normalize_cams', 'scores_to_label']
