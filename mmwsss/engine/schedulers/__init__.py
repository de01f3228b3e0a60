from .poly_warmup import PolyWarmupLR, PolyWarmupParamScheduler, poly_warmup_factor

__all__ = ['PolyWarmupLR', 'PolyWarmupParamScheduler', 'poly_warmup_factor']
