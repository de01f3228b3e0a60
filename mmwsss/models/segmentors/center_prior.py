"""A non-learned CAM prior: one centred Gaussian blob for each labelled class.

The floor any learned CAM must clearly beat: it knows the image labels (as the
seed protocol allows) but nothing about where objects are.
"""
from typing import Optional

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures.img_labels import stack_img_labels
from ..utils.cam import cam_to_label


@MODELS.register_module()
class CenterPriorCAM(BaseModel):
    """``cams[c] = y_c * exp(-d^2 / (2 sigma^2))`` with d the distance to the
    image centre in units of the image size, for every labelled class c.

    All labelled classes share the blob, so ties go to the lowest class index
    (argmax order), as a label-only prior would.

    Args:
        num_classes: foreground classes C.
        sigma: blob width as a fraction of the image side.
        bg_thr: threshold for ``pred_sem_seg``.
    """

    def __init__(self,
                 num_classes: int,
                 sigma: float = 0.25,
                 bg_thr: float = 0.5,
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.num_classes = num_classes
        self.sigma = sigma
        self.bg_thr = bg_thr

    def blob(self, h: int, w: int) -> Tensor:
        """(H, W) Gaussian centred in the image, peak 1."""
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h - 0.5
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w - 0.5
        d2 = ys[:, None]**2 + xs[None, :]**2
        return torch.exp(-d2 / (2 * self.sigma**2))

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'predict') -> SampleList:
        if mode != 'predict':
            raise RuntimeError('CenterPriorCAM has nothing to train')
        labels = stack_img_labels(data_samples, self.num_classes)
        for sample, label in zip(data_samples, labels):
            h, w = sample.metainfo['ori_shape'][:2]
            cams = label[:, None, None] * self.blob(h, w)[None]
            sample.set_data({
                'cams':
                PixelData(data=cams),
                'pred_sem_seg':
                PixelData(data=cam_to_label(cams[None], bg_thr=self.bg_thr))
            })
        return data_samples
