from .multilabel_loss import MultiLabelSoftMarginLoss

__all__ = ['MultiLabelSoftMarginLoss']
from .affinity_loss import AffinityDisplacementLoss, AffinityLoss

__all__ += ['AffinityLoss', 'AffinityDisplacementLoss']
from .seg_loss import bg_fg_seg_loss
from .token_contrast import ctc_loss_neg, label_to_aff_mask, masked_ptc_loss

__all__ += ['bg_fg_seg_loss', 'ctc_loss_neg', 'label_to_aff_mask', 'masked_ptc_loss']
from .terms import ClsTerm, CTCTerm, EnergyTerm, LossTerm, PTCTerm, SegTerm

__all__ += ['LossTerm', 'ClsTerm', 'SegTerm', 'PTCTerm', 'CTCTerm', 'EnergyTerm']
from .dense_energy_loss import (DenseEnergyLoss, bilateral_filter, dense_energy, dense_energy_loss,
                                energy_loss_inputs)

__all__ += [
    'DenseEnergyLoss', 'dense_energy', 'dense_energy_loss', 'bilateral_filter', 'energy_loss_inputs'
]
from .pixel_prototype_contrast import ppc_losses  # noqa: E402

__all__ += ['ppc_losses']
from .gsc_loss import gsc_loss  # noqa: E402

__all__ += ['gsc_loss']
from .region_contrast import region_contrast_mixup_loss  # noqa: E402

__all__ += ['region_contrast_mixup_loss']
from .cpal_loss import cpal_self_loss, feature_distribution_alignment  # noqa: E402

__all__ += ['cpal_self_loss', 'feature_distribution_alignment']
from .mupvss_loss import ccp_contrast, cip_contrast, p2p_consistency  # noqa: E402

__all__ += ['ccp_contrast', 'cip_contrast', 'p2p_consistency']
from .carb_loss import carb_balance_coefficient, carb_region_labels, masked_ce  # noqa: E402

__all__ += ['carb_balance_coefficient', 'carb_region_labels', 'masked_ce']
from .confidence_weighted_loss import (ConfidenceWeightedLoss, confidence_weighted_mean,
                                       confidence_weights)

__all__ += ['ConfidenceWeightedLoss', 'confidence_weighted_mean', 'confidence_weights']
from .mmcst_loss import class_token_contrast, text_visual_contrast  # noqa: E402

__all__ += ['class_token_contrast', 'text_visual_contrast']
from .fma_loss import CAMIntensityLoss, MultiLabelCLLoss  # noqa: E402

__all__ += ['CAMIntensityLoss', 'MultiLabelCLLoss']
