from .models import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg
from .tools import load_tool

__all__ = ['TINY_CHANNELS', 'demo_wsss_inputs', 'tiny_backbone_cfg', 'load_tool']
