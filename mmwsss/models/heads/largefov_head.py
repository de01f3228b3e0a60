"""DeepLab-LargeFOV decode head as used by ToCo / DuPL / MoRe.

Official: ``model/decoder/conv_head.py: LargeFOV``.
"""
from typing import List, Optional, Sequence, Union

import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmwsss.registry import MODELS


@MODELS.register_module()
class LargeFOVHead(BaseDecodeHead):
    """3x3 dilated conv -> ReLU -> 3x3 dilated conv -> ReLU -> 1x1 conv to the classes.

    ToCo: ``in_channels`` (768) -> 512 -> 512 -> ``num_classes`` (21), dilation 5 with
    padding 5 (the spatial size is kept), on the final ViT patch tokens at stride 16.

    Faithfulness notes:

    * Bias: all three official convs have ``bias=False`` (``conv3x3``/``conv1x1`` helpers);
      ``bias=True`` is available as an option. ``conv_seg`` is rebuilt to honour it (mmseg's
      default ``conv_seg`` has a bias).
    * Init: the official class defines ``_init_weights`` (kaiming-normal, fan_out, relu) but
      never calls it (calling it would even fail: ``constant_(m.bias, 0)`` on ``bias=None``),
      so ToCo trains from PyTorch's default conv init. Hence ``init_cfg=None`` by default
      (mmseg's usual ``Normal(std=0.01)`` on ``conv_seg`` is NOT applied). The evident intent
      is ``init_cfg=dict(type='Kaiming', mode='fan_out', nonlinearity='relu',
      distribution='normal', layer='Conv2d')``.
    * No dropout (``dropout_ratio=0``) and no normalisation: the official has neither, so
      ``norm_cfg`` is refused rather than silently ignored.
    * Parameter names: official ``conv6``/``conv7``/``conv8``; here ``conv6``/``conv7``/
      ``conv_seg`` (mmseg's name for the classifier), for checkpoint conversion.

    Args:
        in_channels: channels of the ``in_index`` input level (ViT-B: 768).
        channels: width of the two dilated convs (512).
        dilation: dilation (and padding) of the 3x3 convs (5).
        bias: give the convs a bias (official: False).
        dropout_ratio: Dropout2d before ``conv_seg`` (official: none).
        loss_decode: mmseg's loss config; scope-prefixed so it builds under the ``mmwsss``
            default scope. ToCo itself trains the head with
            :func:`mmwsss.models.losses.bg_fg_seg_loss` (wired by the segmentor).
        init_cfg: see above (default None = PyTorch default init, as the official).
        **kwargs: the rest of :class:`BaseDecodeHead` (``num_classes``, ``loss_decode``,
            ``in_index``, ``align_corners``, ...).

    Shapes: inputs (levels of (B, C_i, h, w)) -> (B, num_classes, h, w).
    """

    def __init__(self,
                 in_channels: int = 768,
                 channels: int = 512,
                 dilation: int = 5,
                 bias: bool = False,
                 dropout_ratio: float = 0.0,
                 loss_decode: Union[dict, List[dict]] = dict(
                     type='mmseg.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if kwargs.get('norm_cfg') is not None:
            raise ValueError('LargeFOVHead has no normalisation layers; norm_cfg must be None')
        if kwargs.get('input_transform') is not None:
            raise ValueError('LargeFOVHead takes one input level; input_transform must be None')
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            dropout_ratio=dropout_ratio,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            **kwargs)
        self.dilation = dilation
        self.conv6 = nn.Conv2d(
            in_channels, channels, 3, padding=dilation, dilation=dilation, bias=bias)
        self.relu6 = nn.ReLU(inplace=True)
        self.conv7 = nn.Conv2d(
            channels, channels, 3, padding=dilation, dilation=dilation, bias=bias)
        self.relu7 = nn.ReLU(inplace=True)
        self.conv_seg = nn.Conv2d(channels, self.out_channels, 1, bias=bias)

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Select the ``in_index`` level (a bare tensor is used as is) -> class logits."""
        x = self._transform_inputs(inputs) if isinstance(inputs, (list, tuple)) else inputs
        x = self.relu6(self.conv6(x))
        x = self.relu7(self.conv7(x))
        return self.cls_seg(x)
