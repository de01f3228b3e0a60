from .efficientnet_lite import EfficientNetLite, MBConvLite
from .token_vit import TOCO_EXTRA_TOKENS, TokenViT

__all__ = ['EfficientNetLite', 'MBConvLite', 'TokenViT', 'TOCO_EXTRA_TOKENS']
