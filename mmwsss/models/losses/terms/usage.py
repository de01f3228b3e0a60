"""USAGE loss terms (Peng et al., ICCV'23): seed generation with a temperature, cross-view
seed consistency. Formulas: ``..seed_generation`` (our reading of the abstract; no code was
released, reference §9).
"""
from typing import Dict, Optional

from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..seed_generation import usage_generation_loss, usage_regularization_loss
from .base import LossTerm

# The "deterministic principle" of the abstract as we implement it: CNN CAMs under-activate, so
# their generation loss uses a concave power mean (tau > 1, rewards many active pixels);
# Transformer CAMs over-activate, so theirs leans to the max (tau < 1). The values are OUR
# choice (the paper's are unverified), symmetric around the plain mean tau = 1.
USAGE_TEMPERATURES = {'cnn': 2.0, 'transformer': 0.5}


@MODELS.register_module()
class USAGEGenerationTerm(LossTerm):
    """``loss_gen``: :func:`usage_generation_loss` on CAM head ``cam``.

    Args:
        cam: CAM-head name.
        network: ``'cnn'`` or ``'transformer'``: picks the temperature of
            :data:`USAGE_TEMPERATURES` when ``temperature`` is None.
        temperature: explicit tau (> 0), overrides ``network``.
    """

    def __init__(self,
                 name: str = 'gen',
                 cam: str = 'main',
                 network: str = 'cnn',
                 temperature: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if temperature is None:
            if network not in USAGE_TEMPERATURES:
                raise ValueError(f'network must be one of {list(USAGE_TEMPERATURES)}, '
                                 f'got {network!r}')
            temperature = USAGE_TEMPERATURES[network]
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.cam = cam
        self.network = network
        self.temperature = float(temperature)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        cams = ctx.require('cams', self.cam)
        return {'loss_gen': usage_generation_loss(cams, ctx.img_labels, self.temperature)}


@MODELS.register_module()
class USAGEConsistencyTerm(LossTerm):
    """``loss_reg``: :func:`usage_regularization_loss` between CAM head ``cam`` on the main
    view and the same head in the segmentor's view pass ``view_pass``.

    Args:
        cam: CAM-head name (must run in the pass).
        view_pass: name of the ``view_passes`` entry (``ctx.passes[view_pass]``).
        view: the preprocessor view that pass ran on; its per-sample flips
            (``ctx.view_flips[view]``) are undone before comparing.
        align_corners: of the resize of the view's seeds to the main CAM grid.
    """

    def __init__(self,
                 name: str = 'reg',
                 cam: str = 'main',
                 view_pass: str = 'view',
                 view: str = 'view',
                 align_corners: bool = False,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.cam, self.view_pass, self.view = cam, view_pass, view
        self.align_corners = align_corners

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        cams = ctx.require('cams', self.cam)
        out = ctx.require('passes', self.view_pass)
        if self.cam not in out.cams:
            raise KeyError(f"view pass '{self.view_pass}' did not run CAM head '{self.cam}'; "
                           f'it has {sorted(out.cams)}')
        flips = ctx.view_flips.get(self.view)
        loss = usage_regularization_loss(
            cams, out.cams[self.cam], ctx.img_labels, flips, align_corners=self.align_corners)
        return {'loss_reg': loss}
