from .models import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg

__all__ = ['TINY_CHANNELS', 'demo_wsss_inputs', 'tiny_backbone_cfg']
