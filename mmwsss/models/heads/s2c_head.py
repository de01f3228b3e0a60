"""S2C's CAM head (``networks/resnet38d.py::Net_CAM(D=256, C=20)`` after ``relu(bn7)``).

``feat = relu(fc8(x))`` with ``fc8`` a 1x1 conv in -> D = 256 without bias, ``cam =
fc9(feat)`` with ``fc9`` a 1x1 conv D -> C without bias, ``pred = GAP(cam)``; both
convs xavier-uniform initialised. ``feat`` is the feature the SAM segment contrast (SSC)
pulls to its segment prototypes. The official ``bn8`` and ``Dropout2d(0.3)`` are built
but never called, so they are left out.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from .cam_head import CAMHead


@MODELS.register_module()
class S2CCAMHead(CAMHead):
    """``CAMHead`` with S2C's fc8 (+ ReLU) feature layer before the classifier.

    Args:
        in_channels: backbone channels (4096 for ResNet-38's conv6).
        num_classes: foreground classes C.
        feat_channels: D (256).
        **kwargs: :class:`CAMHead` arguments (``pool='gap'``, the loss).

    Shapes: (B, in_channels, h, w) -> logits (B, C), cams (B, C, h, w); ``forward_parts``
    also gives ``feat`` (B, D, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 feat_channels: int = 256,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels, num_classes=num_classes, init_cfg=init_cfg, **kwargs)
        self.fc8 = nn.Conv2d(in_channels, feat_channels, 1, bias=False)
        self.conv_seg = nn.Conv2d(feat_channels, num_classes, 1, bias=False)  # fc9
        # official torch.nn.init.xavier_uniform_ on both (the global seed decides them)
        nn.init.xavier_uniform_(self.fc8.weight)
        nn.init.xavier_uniform_(self.conv_seg.weight)

    def forward_parts(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Dict[str, Tensor]:
        """``feat`` (B, D, h, w), raw ``cam`` (B, C, h, w), ``logits`` (B, C)."""
        feat = F.relu(self.fc8(self._features(inputs)))
        cam = self.conv_seg(feat)
        return dict(feat=feat, cam=cam, logits=self.pool(feat, cam, self.conv_seg))

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tuple[Tensor, Tensor]:
        parts = self.forward_parts(inputs)
        return parts['logits'], parts['cam']
