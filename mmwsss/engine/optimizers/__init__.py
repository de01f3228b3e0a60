from .poly_sgd import PolySGD

__all__ = ['PolySGD']
