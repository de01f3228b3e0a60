"""The prototype family's shared part: prototype arithmetic and the prototype bank."""
from .functional import cosine_maps, masked_average

__all__ = ['cosine_maps', 'masked_average']
