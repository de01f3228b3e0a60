from .multilabel_loss import MultiLabelSoftMarginLoss

__all__ = ['MultiLabelSoftMarginLoss']
from .affinity_loss import AffinityDisplacementLoss, AffinityLoss  # noqa: E402

__all__ += ['AffinityLoss', 'AffinityDisplacementLoss']
