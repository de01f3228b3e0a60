from .efficientnet_lite import EfficientNetLite, MBConvLite

__all__ = ['EfficientNetLite', 'MBConvLite']
