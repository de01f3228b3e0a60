from .base import LossTerm
from .common import ClsTerm, SegTerm
from .toco import CTCTerm, EnergyTerm, PTCTerm

__all__ = ['LossTerm', 'ClsTerm', 'SegTerm', 'PTCTerm', 'CTCTerm', 'EnergyTerm']
from .cam_consistency import CAMConsistencyTerm  # noqa: E402

__all__ += ['CAMConsistencyTerm']
from .dupl import DiscrepancyTerm, StrongConsistencyTerm  # noqa: E402

__all__ += ['DiscrepancyTerm', 'StrongConsistencyTerm']
from .acr import AttentionConsistencyTerm, PassClsTerm  # noqa: E402

__all__ += ['AttentionConsistencyTerm', 'PassClsTerm']
from .sm import SMDiscrepancyTerm, SMIntersectionTerm  # noqa: E402

__all__ += ['SMDiscrepancyTerm', 'SMIntersectionTerm']
from .usage import USAGEConsistencyTerm, USAGEGenerationTerm  # noqa: E402

__all__ += ['USAGEConsistencyTerm', 'USAGEGenerationTerm']
from .more import AttriTerm, CLETerm, UNETerm  # noqa: E402

__all__ += ['AttriTerm', 'CLETerm', 'UNETerm']
from .beco import BECOTerm  # noqa: E402

__all__ += ['BECOTerm']
from .cpn import CPNTerm  # noqa: E402
from .seam import SEAMTerm  # noqa: E402

__all__ += ['SEAMTerm', 'CPNTerm']
from .ppc import SEAMPPCTerm  # noqa: E402

__all__ += ['SEAMPPCTerm']
from .sipe import SIPETerm  # noqa: E402

__all__ += ['SIPETerm']
from .pbip import PBIPMatchingTerm  # noqa: E402

__all__ += ['PBIPMatchingTerm']
from .rca import RCAAttentionTerm, RCAContrastTerm  # noqa: E402

__all__ += ['RCAContrastTerm', 'RCAAttentionTerm']
from .pot import POTTerm  # noqa: E402

__all__ += ['POTTerm']
from .cpal import CPALTerm  # noqa: E402

__all__ += ['CPALTerm']
from .clims import CLIMSTerm  # noqa: E402

__all__ += ['CLIMSTerm']
from .mupvss import MuPVSSCCPTerm, MuPVSSCIPTerm, MuPVSSP2PTerm  # noqa: E402

__all__ += ['MuPVSSCCPTerm', 'MuPVSSCIPTerm', 'MuPVSSP2PTerm']
from .psdpm import PSDPMTerm  # noqa: E402

__all__ += ['PSDPMTerm']
from .weclip import WeCLIPAffinityTerm  # noqa: E402

__all__ += ['WeCLIPAffinityTerm']
from .s2c import S2CCPMTerm, S2CSSCTerm  # noqa: E402

__all__ += ['S2CSSCTerm', 'S2CCPMTerm']
from .carb import CARBTerm  # noqa: E402

__all__ += ['CARBTerm']
from .pole import POLETerm  # noqa: E402

__all__ += ['POLETerm']
from .mmcst import MMCSTClassTokenTerm, MMCSTTextVisualTerm  # noqa: E402

__all__ += ['MMCSTClassTokenTerm', 'MMCSTTextVisualTerm']
from .semples import SemPLeSTerm  # noqa: E402

__all__ += ['SemPLeSTerm']
