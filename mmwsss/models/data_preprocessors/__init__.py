from .geometric import GeometricView
from .photometric import (DUPL_RANDAUG_OPS, TOCO_JITTER, PhotometricView, StrongView,
                          pil_gaussian_blur)

__all__ = [
    'GeometricView', 'DUPL_RANDAUG_OPS', 'TOCO_JITTER', 'PhotometricView', 'StrongView',
    'pil_gaussian_blur'
]
from .wsss_data_preprocessor import WSSSDataPreProcessor, valid_mask_from_samples

__all__ += ['WSSSDataPreProcessor', 'valid_mask_from_samples']
