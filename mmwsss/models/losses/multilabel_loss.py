"""The multi-label classification loss every CAM method uses."""
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS


@MODELS.register_module()
class MultiLabelSoftMarginLoss(nn.Module):
    """torch's MultiLabelSoftMarginLoss with an mmseg-style ``loss_weight``/``loss_name``.

    loss = mean_b mean_c [ -y log sigmoid(x) - (1 - y) log sigmoid(-x) ]

    Args:
        loss_weight: multiplier.
        loss_name: key in the loss dict (must contain 'loss' to be summed).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_cls') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, target: Tensor, **kwargs) -> Tensor:
        """logits (B, C), target (B, C) multi-hot."""
        if logits.shape != target.shape:
            raise ValueError(f'logits {tuple(logits.shape)} and image labels '
                             f'{tuple(target.shape)} differ in shape')
        return self.loss_weight * F.multilabel_soft_margin_loss(logits, target.to(logits.dtype))

    @property
    def loss_name(self) -> str:
        return self._loss_name
