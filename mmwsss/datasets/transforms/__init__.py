from .formatting import PackWSSSInputs
from .loading import LoadWSSSAnnotations, LoadWSSSImageFromFile
from .processing import RandomRescale, RandomResizeLong

__all__ = [
    'PackWSSSInputs', 'LoadWSSSAnnotations', 'LoadWSSSImageFromFile', 'RandomResizeLong',
    'RandomRescale'
]
from .views import PackWSSSViews, RandomResizedCropView, ViewData  # noqa: E402

__all__ += ['PackWSSSViews', 'RandomResizedCropView', 'ViewData']
from .confidence_mask import LoadConfidenceMask, PackWSSSMaps, RandomResizedCropSeg  # noqa: E402

__all__ += ['LoadConfidenceMask', 'PackWSSSMaps', 'RandomResizedCropSeg']
from .complementary import SuperpixelComplementaryPair  # noqa: E402

__all__ += ['SuperpixelComplementaryPair']
from .rotate90 import RandomRotate90  # noqa: E402

__all__ += ['RandomRotate90']
from .sam_segments import LoadSAMSegments, MoveSAMSegments, RemapSAMSegments  # noqa: E402

__all__ += ['LoadSAMSegments', 'MoveSAMSegments', 'RemapSAMSegments']
