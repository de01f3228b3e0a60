from .cam_label_source import CAMLabelSource

__all__ = ['CAMLabelSource']
from .gmm_noise_filter import GMMNoiseFilter, gmm_noise_mask  # noqa: E402

__all__ += ['GMMNoiseFilter', 'gmm_noise_mask']
from .sample_field import SampleFieldSource  # noqa: E402

__all__ += ['SampleFieldSource']
from .weclip_rfm import WeCLIPLabelSource  # noqa: E402

__all__ += ['WeCLIPLabelSource']
from .carb_clip_mask import CARBCLIPLabelSource  # noqa: E402

__all__ += ['CARBCLIPLabelSource']
