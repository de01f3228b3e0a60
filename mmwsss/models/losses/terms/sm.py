"""S&M loss terms (Zhang et al., ECCV'20): Discrepancy and Intersection of several CAM heads.

The maps are ordinary CAM heads of one branch (each also trained by its own ``ClsTerm``); these
terms read their raw CAMs from ``ctx.cams``. Formulas: ``..discrepancy_intersection`` (our
reading of the abstract; no code was released, reference §8).
"""
from typing import Dict, Sequence

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..discrepancy_intersection import discrepancy_loss, intersection_loss
from .base import LossTerm


class _MultiMapTerm(LossTerm):

    def __init__(self, name: str, cams: Sequence[str] = ('cam1', 'cam2'), **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if len(cams) < 2:
            raise ValueError(f'{type(self).__name__} needs at least 2 CAM heads, got {cams}')
        self.cams = tuple(cams)

    def maps(self, ctx: TrainContext):
        return [ctx.require('cams', c) for c in self.cams]


@MODELS.register_module()
class SMDiscrepancyTerm(_MultiMapTerm):
    """``loss_dis``: mean pairwise cosine similarity of the heads' ReLU'd CAMs on present
    classes (:func:`discrepancy_loss`); minimising it splits the maps apart in space.

    Args:
        cams: the CAM-head names (K >= 2; all pairs are used).
        eps: lower bound of the norm product.
    """

    def __init__(self,
                 name: str = 'dis',
                 cams=('cam1', 'cam2'),
                 eps: float = 1e-5,
                 **kwargs) -> None:
        super().__init__(name=name, cams=cams, **kwargs)
        self.eps = eps

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        return {'loss_dis': discrepancy_loss(self.maps(ctx), ctx.img_labels, self.eps)}


@MODELS.register_module()
class SMIntersectionTerm(_MultiMapTerm):
    """``loss_inter``: the multi-label loss of the GAP of the pixel-wise minimum of the heads'
    raw CAMs (:func:`intersection_loss`): the region common to all maps must classify."""

    def __init__(self, name: str = 'inter', cams=('cam1', 'cam2'), **kwargs) -> None:
        super().__init__(name=name, cams=cams, **kwargs)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        return {'loss_inter': intersection_loss(self.maps(ctx), ctx.img_labels)}
