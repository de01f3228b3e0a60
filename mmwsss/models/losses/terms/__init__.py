from .base import LossTerm
from .common import ClsTerm, SegTerm
from .toco import CTCTerm, EnergyTerm, PTCTerm

__all__ = ['LossTerm', 'ClsTerm', 'SegTerm', 'PTCTerm', 'CTCTerm', 'EnergyTerm']
from .more import AttriTerm, CLETerm, UNETerm  # noqa: E402

__all__ += ['AttriTerm', 'CLETerm', 'UNETerm']
from .sm import SMDiscrepancyTerm, SMIntersectionTerm  # noqa: E402

__all__ += ['SMDiscrepancyTerm', 'SMIntersectionTerm']
from .usage import USAGEConsistencyTerm, USAGEGenerationTerm  # noqa: E402

__all__ += ['USAGEConsistencyTerm', 'USAGEGenerationTerm']
