from .cam_head import CAMHead
from .poolings import GAPool, GMPool, LSEPool, TopKPool, build_pool

__all__ = ['CAMHead', 'GAPool', 'GMPool', 'TopKPool', 'LSEPool', 'build_pool']
from .affinity_head import AffinityHead  # noqa: E402
from .irn_head import IRNHead  # noqa: E402

__all__ += ['AffinityHead', 'IRNHead']
from .ctc_head import CTCHead  # noqa: E402
from .largefov_head import LargeFOVHead  # noqa: E402

__all__ += ['CTCHead', 'LargeFOVHead']
from .cls_token_head import ClsTokenHead  # noqa: E402

__all__ += ['ClsTokenHead']
from .gcr_head import GCRHead  # noqa: E402

__all__ += ['GCRHead']
from .pcm import PCMCAMHead  # noqa: E402

__all__ += ['PCMCAMHead']
from .ppc_head import PPCCAMHead  # noqa: E402

__all__ += ['PPCCAMHead']
from .sipe_head import SIPEHead  # noqa: E402

__all__ += ['SIPEHead']
from .pbip_head import PBIPSubclassHead  # noqa: E402

__all__ += ['PBIPSubclassHead']
from .rca_head import RCACoarseHead, RCAHead  # noqa: E402

__all__ += ['RCAHead', 'RCACoarseHead']
from .pot_head import POTHead  # noqa: E402

__all__ += ['POTHead']
from .cpal_head import CPALHead  # noqa: E402

__all__ += ['CPALHead']
from .clims_head import CLIMSHead  # noqa: E402

__all__ += ['CLIMSHead']
from .mupvss_head import MuPVSSHead, PrototypeEmbeddingModule  # noqa: E402

__all__ += ['MuPVSSHead', 'PrototypeEmbeddingModule']
from .psdpm_head import PSDPMHead  # noqa: E402

__all__ += ['PSDPMHead']
from .weclip_head import WeCLIPHead, WeCLIPPredictor  # noqa: E402

__all__ += ['WeCLIPHead', 'WeCLIPPredictor']
from .s2c_head import S2CCAMHead  # noqa: E402

__all__ += ['S2CCAMHead']
from .carb_head import CARBHead  # noqa: E402

__all__ += ['CARBHead']
from .mmcst_head import MMCSTHead, MMCSTTokenHead  # noqa: E402

__all__ += ['MMCSTHead', 'MMCSTTokenHead']
from .weaktr_head import AdaptiveAttentionFusion, WeakTrHead  # noqa: E402

__all__ += ['WeakTrHead', 'AdaptiveAttentionFusion']
