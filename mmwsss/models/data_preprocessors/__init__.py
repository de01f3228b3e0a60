from .photometric import (DUPL_RANDAUG_OPS, TOCO_JITTER, PhotometricView, StrongView,
                          pil_gaussian_blur)

__all__ = ['DUPL_RANDAUG_OPS', 'TOCO_JITTER', 'PhotometricView', 'StrongView', 'pil_gaussian_blur']
from .wsss_data_preprocessor import WSSSDataPreProcessor  # noqa: E402

__all__ += ['WSSSDataPreProcessor']
