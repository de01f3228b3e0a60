"""The cross-network CAM consistency term (configs/xarch, mmwsss's own)."""
from typing import Dict, Optional, Sequence, Tuple, Union

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..cam_consistency import cross_cam_consistency
from .base import LossTerm


@MODELS.register_module()
class CAMConsistencyTerm(LossTerm):
    """``loss_xcam`` = :func:`cross_cam_consistency` of two named CAM heads.

    Args:
        cams: the two CAM-head names (e.g. ``('cam_cnn', 'cam_vit')``), usually
            of two branches.
        size: the common grid (``'larger'``, ``'a'``, ``'b'`` or (h, w)).
        detach: None, ``'a'`` or ``'b'`` (see the function).
    """

    loss_keys = ('loss_xcam', )

    def __init__(self,
                 name: str = 'xcam',
                 cams: Sequence[str] = ('cam_a', 'cam_b'),
                 size: Union[str, Tuple[int, int]] = 'larger',
                 detach: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if len(cams) != 2 or cams[0] == cams[1]:
            raise ValueError(f'CAMConsistencyTerm needs two different CAM heads, got {cams}')
        self.cams = tuple(cams)
        self.size = size
        self.detach = detach

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        a = ctx.require('cams', self.cams[0])
        b = ctx.require('cams', self.cams[1])
        return {
            'loss_xcam':
            cross_cam_consistency(a, b, ctx.img_labels, size=self.size, detach=self.detach)
        }
