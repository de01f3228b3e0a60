from .branch import WSSSBranch, in_parent_scope
from .cam_classifier import CAMClassifier, CAMPredictMixin, build_cam_cfg
from .single_stage import SingleStageWSSS

__all__ = [
    'CAMClassifier', 'CAMPredictMixin', 'SingleStageWSSS', 'build_cam_cfg', 'WSSSBranch',
    'in_parent_scope'
]
from .center_prior import CenterPriorCAM  # noqa: E402

__all__ += ['CenterPriorCAM']
from .clip_es import CLIPES  # noqa: E402

__all__ += ['CLIPES']
from .affinity_net import AffinityNet  # noqa: E402
from .irn import IRN  # noqa: E402

__all__ += ['AffinityNet', 'IRN']
from .cam_ensemble import CAMEnsemble  # noqa: E402

__all__ += ['CAMEnsemble']
from .predictors import CAM2SegPredictor, seg_tags  # noqa: E402

__all__ += ['CAM2SegPredictor', 'seg_tags']
from .branch_mean_predictor import BranchMeanPredictor, branch_mean_logits  # noqa: E402

__all__ += ['BranchMeanPredictor', 'branch_mean_logits']
from .prototype_cam import PrototypeCAMWSSS  # noqa: E402

__all__ += ['PrototypeCAMWSSS']
from .lpcam import LPCAMClassifier  # noqa: E402

__all__ += ['LPCAMClassifier']
from .pbip import PBIPSegmentor, pbip_fused_cams  # noqa: E402

__all__ += ['PBIPSegmentor', 'pbip_fused_cams']
from .medprompt import MedPromptWSSS, cam_boxes, medprompt_cams, sam_cam_label  # noqa: E402

__all__ += ['MedPromptWSSS', 'cam_boxes', 'medprompt_cams', 'sam_cam_label']
from .confidence_encoder_decoder import ConfidenceEncoderDecoder, stack_confidence  # noqa: E402

__all__ += ['ConfidenceEncoderDecoder', 'stack_confidence']
from .rs_textws_seg import (RSTextWSCLIPES, RSTextWSCLIPTuner, rs_textws_logits,
                            rs_textws_sigmoid_loss, rs_textws_softmax_loss)

__all__ += [
    'RSTextWSCLIPES', 'RSTextWSCLIPTuner', 'rs_textws_logits', 'rs_textws_sigmoid_loss',
    'rs_textws_softmax_loss'
]
from .fma import FMAPromptCAM, differentiable_grad_cams  # noqa: E402

__all__ += ['FMAPromptCAM', 'differentiable_grad_cams']
