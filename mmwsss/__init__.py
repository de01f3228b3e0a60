"""mmwsss: weakly supervised semantic segmentation on OpenMMLab 2.x."""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMCV_MIN, MMCV_MAX = '2.0.0rc4', '2.2.0'
MMENGINE_MIN, MMENGINE_MAX = '0.8.0', '1.0.0'
MMSEG_MIN, MMSEG_MAX = '1.0.0', '2.0.0'


def _check(name: str, version: str, low: str, high: str) -> None:
    """Exclusive upper bound, inclusive lower bound (OpenMMLab convention)."""
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise AssertionError(f'{name}=={version} is used but incompatible with mmwsss. '
                             f'Please install {name}>={low}, <{high}.')


_check('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)
try:
    import mmseg
except ImportError as e:  # pragma: no cover
    raise ImportError('mmwsss needs mmsegmentation>=1.0.0,<2.0.0') from e
_check('mmsegmentation', mmseg.__version__, MMSEG_MIN, MMSEG_MAX)

# torch>=2.6 loads with weights_only=True: allow-list what mmengine checkpoints hold.
from .utils.checkpoint_compat import register_safe_globals  # noqa: E402

register_safe_globals()

__all__ = ['__version__', 'version_info']
