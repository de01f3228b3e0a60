from .base import LossTerm
from .common import ClsTerm, SegTerm
from .toco import CTCTerm, EnergyTerm, PTCTerm

__all__ = ['LossTerm', 'ClsTerm', 'SegTerm', 'PTCTerm', 'CTCTerm', 'EnergyTerm']
