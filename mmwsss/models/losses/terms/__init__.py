from .base import LossTerm
from .common import ClsTerm, SegTerm
from .toco import CTCTerm, EnergyTerm, PTCTerm

__all__ = ['LossTerm', 'ClsTerm', 'SegTerm', 'PTCTerm', 'CTCTerm', 'EnergyTerm']
from .more import AttriTerm, CLETerm, UNETerm  # noqa: E402

__all__ += ['AttriTerm', 'CLETerm', 'UNETerm']
