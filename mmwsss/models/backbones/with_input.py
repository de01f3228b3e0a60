"""Hand the network input to the heads along with the backbone's feature maps.

SEAM's PCM and CPN's PRCM build their pixel affinity from the INPUT IMAGE resized to the
feature grid next to two intermediate feature maps (``network/resnet38_SEAM.py``:
``x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)``). A CAM head of a
:class:`~mmwsss.models.segmentors.WSSSBranch` only sees the backbone output, so this
wrapper appends the (normalised) input to it: ``(*backbone(x), x)``. Test-time CAMs
(``cam_fn``) then come from the same head, with no change to the branch.
"""
from typing import Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..segmentors.branch import in_parent_scope


@MODELS.register_module()
class AppendInput(BaseModule):
    """A backbone whose output tuple ends with its own input.

    Args:
        backbone: the wrapped backbone config (its ``init_cfg`` loads as usual; its
            ``train()`` override, e.g. frozen BatchNorm, still applies).

    Shapes: (B, 3, H, W) -> ``(*maps, x)``: the wrapped backbone's tuple of
    (B, C_i, H_i, W_i) maps followed by the input (B, 3, H, W) itself, so index -1
    is the image and the backbone's ``out_indices`` keep their positions.
    """

    def __init__(self, backbone: dict, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.backbone = MODELS.build(in_parent_scope(backbone))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        out = self.backbone(x)
        maps = (out, ) if isinstance(out, Tensor) else tuple(out)
        return maps + (x, )
