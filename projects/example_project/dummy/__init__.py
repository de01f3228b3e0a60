from .gem_pool import DummyGeMPool

__all__ = ['DummyGeMPool']
