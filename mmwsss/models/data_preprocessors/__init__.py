from .geometric import GeometricView
from .photometric import (DUPL_RANDAUG_OPS, TOCO_JITTER, PhotometricView, StrongView,
                          pil_gaussian_blur)

__all__ = [
    'GeometricView', 'DUPL_RANDAUG_OPS', 'TOCO_JITTER', 'PhotometricView', 'StrongView',
    'pil_gaussian_blur'
]
from .wsss_data_preprocessor import WSSSDataPreProcessor, valid_mask_from_samples

__all__ += ['WSSSDataPreProcessor', 'valid_mask_from_samples']
from .albu_photometric import AlbuPhotometric  # noqa: E402
from .class_mix import BECOClassMix, boundary_map, random_class_mask  # noqa: E402

__all__ += ['AlbuPhotometric', 'BECOClassMix', 'boundary_map', 'random_class_mask']
