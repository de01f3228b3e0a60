"""Score the fused CAM seeds of separately trained models (AND / OR ensembles).

``CAMEnsemble`` is a test-only model: it builds each member from its own config,
loads its checkpoint strictly (every weight, no code execution: the project's
safe loader), runs each member's own test step on the same batch (its own data
preprocessor and CAM inference) and fuses the members' normalised CAMs
(:func:`~mmwsss.models.utils.cam_fusion.fuse_cams`). ``tools/test.py CONFIG``
(no checkpoint argument) scores the fused seeds with ``CAMMetric``.
"""
import copy
import logging
from typing import List, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn

from mmwsss.registry import MODELS
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict
from ..utils.cam import cam_to_label
from ..utils.cam_fusion import FUSIONS, fuse_cams


def _member_model_cfg(member: dict, index: int) -> dict:
    for key in ('config', 'checkpoint'):
        if key not in member:
            raise KeyError(f"CAMEnsemble member {index} needs '{key}' (got {sorted(member)})")
    cfg = member['config']
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg).model
    model_cfg = copy.deepcopy(dict(cfg))
    test_cfg = dict(model_cfg.get('test_cfg') or {})
    test_cfg.update(predict_source='cam', crf=None)
    test_cfg.update(member.get('test_cfg', {}))
    model_cfg['test_cfg'] = test_cfg
    return model_cfg


@MODELS.register_module()
class CAMEnsemble(BaseModel):
    """Fused CAM seeds of N trained models.

    Args:
        members: ``[dict(config=path | model cfg, checkpoint=path, test_cfg=dict(...))]``
            (``checkpoint=None`` builds random weights with a warning: config checks only);
            each member predicts CAMs (``predict_source='cam'`` is forced, the
            CRF off); ``test_cfg`` overrides (e.g. ``cam_head='cam_vit'``).
        fusion: ``'and'`` (min), ``'or'`` (max) or ``'mean'``.
        bg_thr: background threshold of ``pred_sem_seg`` (the CAMMetric sweep
            scores the fused CAMs at every threshold anyway).
    """

    def __init__(self,
                 members: Sequence[dict],
                 fusion: str = 'and',
                 bg_thr: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if fusion not in FUSIONS:
            raise ValueError(f'CAMEnsemble fusion must be one of {FUSIONS}, got {fusion!r}')
        if len(members) < 2:
            raise ValueError('CAMEnsemble needs at least two members')
        built: List[nn.Module] = []
        for i, member in enumerate(members):
            model = MODELS.build(_member_model_cfg(member, i))
            if member['checkpoint'] is None:
                # only config checks build members this way; a score of it means nothing
                print_log(
                    f'CAMEnsemble member {i} has checkpoint=None: RANDOM weights',
                    logger='current',
                    level=logging.WARNING)
            else:
                load_checkpoint_strict(model, member['checkpoint'])
            model.eval()
            built.append(model)
        self.members = nn.ModuleList(built)
        self.fusion = fusion
        self.bg_thr = bg_thr

    def init_weights(self) -> None:
        """The members' weights come from their checkpoints; nothing to initialise."""

    def test_step(self, data: dict) -> list:
        outs = [member.test_step(copy.copy(data)) for member in self.members]
        fused_samples = outs[0]
        for i, sample in enumerate(fused_samples):
            maps = []
            for k, out in enumerate(outs):
                cams = out[i].get('cams')
                if cams is None:
                    raise KeyError(f'CAMEnsemble member {k} returned no cams (is it a CAM model '
                                   "with predict_source='cam'?)")
                maps.append(cams.data.to(fused_samples[i].cams.data.device))
            fused = fuse_cams(maps, self.fusion)
            sample.set_data({
                'cams':
                PixelData(data=fused),
                'pred_sem_seg':
                PixelData(data=cam_to_label(fused[None], None, bg_thr=self.bg_thr))
            })
        return fused_samples

    val_step = test_step

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        raise RuntimeError('CAMEnsemble is test-only: use test_step (tools/test.py)')
