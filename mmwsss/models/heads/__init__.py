from .cam_head import CAMHead, stack_img_labels

__all__ = ['CAMHead', 'stack_img_labels']
from .affinity_head import AffinityHead  # noqa: E402
from .irn_head import IRNHead  # noqa: E402

__all__ += ['AffinityHead', 'IRNHead']
