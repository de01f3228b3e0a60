from .lse_cam_head import DummyLSEPoolCAMHead

__all__ = ['DummyLSEPoolCAMHead']
