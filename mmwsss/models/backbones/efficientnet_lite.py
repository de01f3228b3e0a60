"""EfficientNet-Lite backbone (Lite0-Lite4) with segmentation-friendly options.

EfficientNet-Lite (TensorFlow TPU repo, ``efficientnet/lite``) differs from EfficientNet-B*:
no squeeze-excitation, ReLU6 instead of Swish, and a stem (32 channels) and head conv
(1280 channels) that are never width-scaled; the first and last MBConv stages are never
depth-scaled either. Convolutions use TensorFlow 'SAME' padding, which is asymmetric for
stride-2 layers on even inputs, so a checkpoint trained in TF only reproduces its numbers
with ``tf_padding=True`` (the default).

Layer indices used by ``out_indices`` / ``frozen_stages`` (Lite0, default strides)::

    index  layer       channels  stride
    0      stem        32        2
    1      stage1      16        2
    2      stage2      24        4
    3      stage3      40        8
    4      stage4      80        16
    5      stage5      112       16
    6      stage6      192       32
    7      stage7      320       32
    8      conv_head   1280      32
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmwsss.registry import MODELS

# Base MBConv stages shared by every Lite variant (EfficientNet-B0 layout, SE removed):
# (num_repeat, kernel_size, stride, expand_ratio, in_channels, out_channels).
LITE_BASE_STAGES: Tuple[Tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

# (width_coefficient, depth_coefficient, native_resolution), from the TF lite builder.
LITE_ARCH_COEFFS: Dict[str, Tuple[float, float, int]] = {
    'lite0': (1.0, 1.0, 224),
    'lite1': (1.0, 1.1, 240),
    'lite2': (1.1, 1.2, 260),
    'lite3': (1.2, 1.4, 280),
    'lite4': (1.4, 1.8, 300),
}

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_LAYERS = len(LITE_BASE_STAGES) + 2  # stem + 7 stages + head conv


def round_channels(channels: int, width_coefficient: float, divisor: int = 8) -> int:
    """Scale ``channels`` by the width coefficient and round to a multiple of ``divisor``.

    Same rule as the TF builder: round to the nearest multiple, but never lose more than
    10% of the scaled width.
    """
    if width_coefficient == 1.0:
        return channels
    scaled = channels * width_coefficient
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def lite_stage_settings(arch: str) -> List[Tuple[int, int, int, int, int, int]]:
    """Per-stage (repeats, kernel, stride, expand, in_ch, out_ch) of an EfficientNet-Lite.

    Lite keeps the first and last stages' depth unscaled and feeds stage 1 from the fixed
    32-channel stem.
    """
    if arch not in LITE_ARCH_COEFFS:
        raise ValueError(f'Unknown EfficientNet-Lite arch {arch!r}; '
                         f'choose from {sorted(LITE_ARCH_COEFFS)}')
    width, depth, _ = LITE_ARCH_COEFFS[arch]
    last = len(LITE_BASE_STAGES) - 1
    settings = []
    for i, (repeats, k, s, e, cin, cout) in enumerate(LITE_BASE_STAGES):
        if i not in (0, last):
            repeats = int(math.ceil(depth * repeats))
        cin = STEM_CHANNELS if i == 0 else round_channels(cin, width)
        settings.append((repeats, k, s, e, cin, round_channels(cout, width)))
    return settings


class MBConvLite(BaseModule):
    """Mobile inverted bottleneck without squeeze-excitation (EfficientNet-Lite block).

    expand 1x1 (skipped when ``expand_ratio == 1``) -> depthwise kxk (stride, dilation)
    -> linear 1x1 projection, with an identity shortcut when stride is 1 and the channel
    count is unchanged. Input (B, in_channels, H, W) -> (B, out_channels, H/stride, W/stride).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int,
                 expand_ratio: int,
                 dilation: int = 1,
                 drop_path_rate: float = 0.,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mid_channels = in_channels * expand_ratio
        self.with_residual = stride == 1 and in_channels == out_channels
        # With TF 'SAME' padding the conv pads itself in forward; otherwise pad symmetrically.
        pad = 0 if conv_cfg is not None else dilation * (kernel_size - 1) // 2
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if expand_ratio != 1:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, act_cfg=act_cfg, **common)
        else:
            self.expand_conv = None
        self.depthwise_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size,
            stride=stride,
            padding=pad,
            dilation=dilation,
            groups=mid_channels,
            act_cfg=act_cfg,
            **common)
        self.project_conv = ConvModule(mid_channels, out_channels, 1, act_cfg=None, **common)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand_conv is None else self.expand_conv(x)
        out = self.project_conv(self.depthwise_conv(out))
        if self.with_residual:
            out = x + self.drop_path(out)
        return out


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite backbone.

    Args:
        arch: 'lite0' ... 'lite4'.
        out_indices: layers whose outputs are returned, indices into
            [stem, stage1..stage7, conv_head] (0..8, negative allowed). Default (8,):
            the 1280-channel head conv, the usual CAM feature.
        strides: stride of the first block of each of the 7 stages. Default: the
            arch's (1, 2, 2, 2, 1, 2, 1). The stem always has stride 2.
        dilations: dilation of every depthwise conv of each stage. Default all 1.
        output_stride: shortcut for dilated variants (8, 16 or 32): once the running
            stride reaches it, later stride-2 stages become stride 1 and their dilation
            (and that of every later stage) doubles, e.g. 16 -> strides
            (1, 2, 2, 2, 1, 1, 1), dilations (1, 1, 1, 1, 1, 2, 2). Excludes
            ``strides`` / ``dilations``.
        frozen_stages: freeze layers 0..frozen_stages (-1: nothing frozen).
        norm_eval: keep BN layers in eval mode (running stats frozen) during training.
        tf_padding: TF 'SAME' padding (mmcv Conv2dAdaptivePadding), needed to reproduce
            the TF-trained checkpoint exactly; False gives symmetric PyTorch padding.
        drop_path_rate: stochastic depth, scaled linearly with block index as in TF.
        norm_cfg: BN eps 1e-3 matches the TF checkpoint.
        init_cfg: e.g. dict(type='Pretrained', checkpoint='checkpoints/...pth') for the
            weights written by tools/model_converters/efficientnet_lite.py.

    Input (B, 3, H, W) RGB normalised with mean 127, std 128 for the converted
    ImageNet weights. Output: tuple of (B, C_i, H_i, W_i), one per out index.
    """

    def __init__(
        self,
        arch: str = 'lite0',
        out_indices: Sequence[int] = (8, ),
        strides: Optional[Sequence[int]] = None,
        dilations: Optional[Sequence[int]] = None,
        output_stride: Optional[int] = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        tf_padding: bool = True,
        drop_path_rate: float = 0.,
        norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01),
        act_cfg: dict = dict(type='ReLU6'),
        init_cfg: Optional[Union[dict, List[dict]]] = [
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        stage_settings = lite_stage_settings(arch)
        num_stages = len(stage_settings)
        strides, dilations = self._resolve_strides([s[2] for s in stage_settings], strides,
                                                   dilations, output_stride)

        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        normalized = []
        for idx in out_indices:
            pos = idx + NUM_LAYERS if idx < 0 else idx
            if not 0 <= pos < NUM_LAYERS:
                raise ValueError(f'out_indices entry {idx} is outside [-{NUM_LAYERS}, '
                                 f'{NUM_LAYERS - 1}] (stem, 7 stages, conv_head)')
            normalized.append(pos)
        if not normalized:
            raise ValueError('out_indices must not be empty')
        if not -1 <= frozen_stages < NUM_LAYERS:
            raise ValueError(f'frozen_stages must be in [-1, {NUM_LAYERS - 1}], '
                             f'got {frozen_stages}')

        self.arch = arch
        self.out_indices = tuple(normalized)
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        conv_cfg = dict(type='Conv2dAdaptivePadding') if tf_padding else None
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        layers = [
            ConvModule(3, STEM_CHANNELS, 3, stride=2, padding=0 if tf_padding else 1, **common)
        ]
        total_blocks = sum(s[0] for s in stage_settings)
        block_id = 0
        for (repeats, kernel, _, expand, cin,
             cout), stride, dilation in zip(stage_settings, strides, dilations):
            blocks = []
            for r in range(repeats):
                blocks.append(
                    MBConvLite(
                        cin if r == 0 else cout,
                        cout,
                        kernel,
                        stride=stride if r == 0 else 1,
                        expand_ratio=expand,
                        dilation=dilation,
                        drop_path_rate=drop_path_rate * block_id / total_blocks,
                        **common))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
        layers.append(ConvModule(stage_settings[-1][5], HEAD_CHANNELS, 1, **common))
        self.layers = nn.ModuleList(layers)
        self.out_channels = tuple([STEM_CHANNELS] + [s[5]
                                                     for s in stage_settings] + [HEAD_CHANNELS])
        assert len(self.layers) == NUM_LAYERS == num_stages + 2
        self._freeze_stages()

    @staticmethod
    def _resolve_strides(default_strides: List[int], strides: Optional[Sequence[int]],
                         dilations: Optional[Sequence[int]],
                         output_stride: Optional[int]) -> Tuple[List[int], List[int]]:
        """Validate per-stage strides/dilations, or derive them from ``output_stride``."""
        n = len(default_strides)
        if output_stride is not None:
            if strides is not None or dilations is not None:
                raise ValueError('Give either output_stride or strides/dilations, not both')
            if output_stride not in (2, 4, 8, 16, 32):
                raise ValueError(f'output_stride must be a power of 2 in [2, 32], '
                                 f'got {output_stride}')
            strides, dilations = [], []
            current, dilation = 2, 1  # the stem already halves the input
            for s in default_strides:
                if current * s > output_stride:
                    dilation *= s
                    s = 1
                current *= s
                strides.append(s)
                dilations.append(dilation)
            return strides, dilations
        strides = list(default_strides if strides is None else strides)
        dilations = list([1] * n if dilations is None else dilations)
        if len(strides) != n or len(dilations) != n:
            raise ValueError(f'strides and dilations need {n} entries (one per stage), '
                             f'got {len(strides)} and {len(dilations)}')
        if any(s not in (1, 2) for s in strides) or any(d < 1 for d in dilations):
            raise ValueError(f'strides must be 1 or 2 and dilations >= 1, '
                             f'got {strides}, {dilations}')
        return strides, dilations

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            layer = self.layers[i]
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, 3, H, W) -> tuple of (B, out_channels[i], H_i, W_i) for i in out_indices."""
        outs = {}
        last = max(self.out_indices)
        for i, layer in enumerate(self.layers[:last + 1]):
            x = layer(x)
            if i in self.out_indices:
                outs[i] = x
        return tuple(outs[i] for i in self.out_indices)

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
