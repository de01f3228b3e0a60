from .efficientnet_lite import EfficientNetLite, MBConvLite
from .resnet38d import ResNet38d
from .token_vit import TOCO_EXTRA_TOKENS, TokenViT

__all__ = ['EfficientNetLite', 'MBConvLite', 'ResNet38d', 'TokenViT', 'TOCO_EXTRA_TOKENS']
from .renormalize import Renormalize  # noqa: E402

__all__ += ['Renormalize']
from .with_input import AppendInput  # noqa: E402

__all__ += ['AppendInput']
from .vgg_d1 import VGG16D1  # noqa: E402

__all__ += ['VGG16D1']
from .frozen_clip import FrozenCLIPBackbone  # noqa: E402

__all__ += ['FrozenCLIPBackbone']
from .mmcst_vit import MMCSTViT  # noqa: E402

__all__ += ['MMCSTViT']
from .weaktr_vit import AttnOutTokenViT  # noqa: E402

__all__ += ['AttnOutTokenViT']
