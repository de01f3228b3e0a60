from .base import BaseRefiner, RefineChain, RefineState, check_state, final_label

__all__ = ['BaseRefiner', 'RefineChain', 'RefineState', 'check_state', 'final_label']
from .sam_refiner import SAMRefiner, sepl_merge  # noqa: E402

__all__ += ['SAMRefiner', 'sepl_merge']
from .affinity_rw import AffinityRandomWalk, PSAAffinityLabel  # noqa: E402
from .irn_rw import IRLabel, IRNRandomWalk  # noqa: E402

__all__ += ['AffinityRandomWalk', 'PSAAffinityLabel', 'IRNRandomWalk', 'IRLabel']
from .crf import CRF_PRESETS, DenseCRF, dense_crf  # noqa: E402
from .par import PAR, PARRefiner, refine_cams_with_bg  # noqa: E402

__all__ += ['CRF_PRESETS', 'DenseCRF', 'dense_crf', 'PAR', 'PARRefiner', 'refine_cams_with_bg']
from .confidence_ignore import ConfidenceIgnore  # noqa: E402

__all__ += ['ConfidenceIgnore']
from .confidence_mask import margin_confidence_mask  # noqa: E402
from .confidence_mask import MarginConfidenceMask, score_margin  # noqa: E402

__all__ += ['MarginConfidenceMask', 'margin_confidence_mask', 'score_margin']
from .bg_channel import BackgroundFromMeta, BGChannelIRLabel, BGChannelRandomWalk  # noqa: E402,E501

__all__ += ['BackgroundFromMeta', 'BGChannelIRLabel', 'BGChannelRandomWalk']
from .label_confidence import (LabelConfidence, confidence_to_uint8, entropy_confidence,
                               margin_confidence)

__all__ += ['LabelConfidence', 'confidence_to_uint8', 'entropy_confidence', 'margin_confidence']
from .fma_sams import FMASAMSRefiner  # noqa: E402

__all__ += ['FMASAMSRefiner']
