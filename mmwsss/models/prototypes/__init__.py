"""The prototype family's shared part: prototype arithmetic and the prototype bank."""
from .bank import PrototypeBank, load_prototype_file
from .functional import cosine_maps, masked_average

__all__ = ['cosine_maps', 'masked_average', 'PrototypeBank', 'load_prototype_file']
