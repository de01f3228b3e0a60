"""The CAM head of the camera-ready CLIMS (``previous_version/models/clip_resnet.py``).

The root (improved) CLIMS uses a plain 1x1 classifier (:class:`CAMHead`); the
camera-ready version puts one ResNet bottleneck (2048 -> 512 -> 512 -> 2048, identity
shortcut, LeakyReLU in place of ReLU) before the 1x1 classifier, all initialised
N(0, 0.01) (BN 1 / 0).
"""
from typing import Optional, Sequence, Tuple, Union

from torch import Tensor, nn

from mmwsss.registry import MODELS
from .cam_head import CAMHead


class CLIMSBottleneck(nn.Module):
    """conv1x1-BN-LReLU, conv3x3-BN-LReLU, conv1x1-BN, + x, LReLU (no downsample:
    ``inplanes == planes * 4``). Shapes: (B, 4p, h, w) -> (B, 4p, h, w)."""

    def __init__(self, inplanes: int = 2048, planes: int = 512, negative_slope: float = 0.01):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, inplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(inplanes)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.act(out + x)


@MODELS.register_module()
class CLIMSHead(CAMHead):
    """CAM head with an optional bottleneck before the classifier (camera-ready CLIMS).

    Args:
        bottleneck: build the bottleneck (camera-ready: True); False is
            :class:`CAMHead` exactly (root CLIMS).
        bottleneck_planes: its middle width (512).

    The official camera-ready head has ``num_classes + 1`` outputs whose channel 0 is
    never read by a loss nor by inference (``[:, 1:]`` everywhere); it has no effect on
    the foreground maps (a separate row of the 1x1 conv) and is not built here.

    Shapes: features (B, in_channels, h, w) -> logits (B, C) (GAP, unused by CLIMS),
    raw cams (B, C, h, w).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 bottleneck: bool = True,
                 bottleneck_planes: int = 512,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels, num_classes=num_classes, init_cfg=init_cfg, **kwargs)
        self.bottleneck = CLIMSBottleneck(in_channels, bottleneck_planes) if bottleneck \
            else None
        # _initialize_weights(cam_head): every conv N(0, 0.01), BN weight 1, bias 0
        # (done here, so a Pretrained init_cfg of the parent still applies afterwards)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, inputs) -> Tuple[Tensor, Tensor]:
        feats = self._features(inputs)
        if self.bottleneck is not None:
            feats = self.bottleneck(feats)
        cams = self.conv_seg(feats)
        return self.pool(feats, cams, self.conv_seg), cams
