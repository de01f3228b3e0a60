from .cam_label_source import CAMLabelSource

__all__ = ['CAMLabelSource']
from .gmm_noise_filter import GMMNoiseFilter, gmm_noise_mask  # noqa: E402

__all__ += ['GMMNoiseFilter', 'gmm_noise_mask']
from .sample_field import SampleFieldSource  # noqa: E402

__all__ += ['SampleFieldSource']
