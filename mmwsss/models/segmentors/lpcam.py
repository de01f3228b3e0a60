"""LPCAM as a CAM model: a trained CAM classifier whose CAMs are local-prototype maps.

Chen & Sun, "Extracting Class Activation Maps from Non-Discriminative Features as well"
(CVPR'23), ``zhaozhengChen/LPCAM`` ``step/make_lpcam.py::make_lpcam``. The prototypes come
from the offline path (``tools/make_prototype_cams.py``, :mod:`mmwsss.models.prototypes.offline`).
``predict`` returns the same ``cams`` / ``pred_sem_seg`` as :class:`CAMClassifier`, so
``tools/test.py`` (CAMMetric seeds), ``tools/generate_pseudo_labels.py`` and the IRN
refiners (configs/lpcam/irn-*) work on LPCAMs unchanged.
"""
import os.path as osp
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmseg.utils import OptSampleList
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures.img_labels import stack_img_labels
from ..prototypes.lpcam import lpcam_multi_scale
from ..prototypes.offline import load_prototype_bank
from ..utils.image_norm import preprocessor_stats
from .cam_classifier import CAMClassifier, CAMPredictMixin


@MODELS.register_module()
class LPCAMClassifier(CAMClassifier):
    """:class:`CAMClassifier` + fixed local prototypes; ``predict`` gives LPCAMs.

    Args:
        prototype_dir: the folder ``tools/make_prototype_cams.py`` wrote (``centers.npz``,
            ``context.npz``); read at the first prediction, so the model builds (and
            trains, and dumps features) without it.
        cam_source: ``'lpcam'`` or ``'classifier'`` (the plain CAM of the same network,
            the baseline and the selection mask of the offline path).
        scale_merge: how the per-scale maps are merged before the max normalisation
            (``'mean'`` VOC code, ``'sum'`` COCO code: the same result).
        *args, **kwargs: :class:`CAMClassifier`. ``test_cfg`` gives ``scales``,
            ``input_resize``, ``out_stride``, ``align_corners`` (the 'irn' preset: IRN's
            PIL-bicubic rescale and stride-16 upsample-then-crop, as ``make_lpcam``),
            ``bg_thr`` (LPCAM's ``cam_eval_thres`` 0.3) and ``use_img_labels``.

    The prototypes are not parameters: they are not in ``state_dict``, so the CAM
    classifier's checkpoint loads strictly.
    """

    def __init__(self,
                 *args,
                 prototype_dir: Optional[str] = None,
                 cam_source: str = 'lpcam',
                 scale_merge: str = 'mean',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if cam_source not in ('lpcam', 'classifier'):
            raise ValueError(f"cam_source must be 'lpcam' or 'classifier', got '{cam_source}'")
        self.prototype_dir = prototype_dir
        self.cam_source = cam_source
        self.scale_merge = scale_merge
        # a plain dict: the banks stay out of the module tree and the state dict
        self._banks: dict = {}

    # ------------------------------------------------------------------ prototypes
    @property
    def feature_dim(self) -> int:
        return int(self.cam_head.conv_seg.weight.shape[1])

    def classifier_weight(self) -> Tensor:
        """(C, D) the 1x1 CAM classifier (the official ``classifier.weight.squeeze()``)."""
        return self.cam_head.conv_seg.weight.detach().flatten(1)

    def head_features(self, inputs: Tensor) -> Tensor:
        """(N, D, h, w): the features the CAM head sees (the official stage-4 output)."""
        return self.cam_head._features(self.extract_feat(inputs))

    def banks(self) -> dict:
        """``{'centers': PrototypeBank, 'context': PrototypeBank}``, loaded once."""
        if not self._banks:
            if not self.prototype_dir:
                raise RuntimeError('LPCAMClassifier has no prototype_dir: run tools/'
                                   'make_prototype_cams.py first and set model.prototype_dir')
            for name in ('centers', 'context'):
                path = osp.join(self.prototype_dir, name + '.npz')
                self._banks[name] = load_prototype_bank(path, self.cam_head.num_classes,
                                                        self.feature_dim)
        return self._banks

    def class_prototypes(self, class_id: int, device, required: bool = True) -> Optional[tuple]:
        """(centers (K, D), context (J, D)) of one class. A class without any class
        prototype raises if ``required`` (a labelled class LPCAM cannot score), else
        gives None."""
        banks = self.banks()
        out = []
        for name in ('centers', 'context'):
            bank = banks[name]
            out.append(bank.protos[class_id][bank.valid[class_id]].to(device))
        if out[0].shape[0] == 0:
            if not required:
                return None
            raise ValueError(f'class {class_id} has no class prototype in '
                             f'{self.prototype_dir}/centers.npz (see meta.json); LPCAM '
                             'cannot score it')
        return tuple(out)

    # ------------------------------------------------------------------ prediction
    def predict_classifier_cams(self,
                                inputs: Tensor,
                                data_samples: OptSampleList = None) -> List[Tensor]:
        """The classifier's CAMs (:meth:`CAMPredictMixin.predict_cams`)."""
        return CAMPredictMixin.predict_cams(self, inputs, data_samples)

    @torch.no_grad()
    def predict_cams(self, inputs: Tensor, data_samples: OptSampleList = None) -> List[Tensor]:
        """Per image (C, H_ori, W_ori) LPCAMs in [0, 1], zero for absent classes.

        As :meth:`CAMPredictMixin.predict_cams`: each image on its unpadded
        ``img_shape`` region, a test-time flip undone, bilinear resize to ``ori_shape``
        (no renormalisation: the maps are max-normalised at the network input, as the
        official ``high_res``).
        """
        if self.cam_source == 'classifier':
            return self.predict_classifier_cams(inputs, data_samples)
        cfg = self.cam_cfg
        num_classes = self.cam_head.num_classes
        img_norm = preprocessor_stats(getattr(self, 'data_preprocessor', None)) \
            if cfg.get('input_resize') == 'pil_bicubic' else None
        metas = [s.metainfo for s in data_samples] if data_samples is not None \
            else [{} for _ in range(inputs.shape[0])]
        labels = None
        if data_samples is not None and cfg.get('use_img_labels', True):
            labels = stack_img_labels(data_samples, num_classes, inputs.device)
        outputs = []
        for i, meta in enumerate(metas):
            h, w = tuple(meta.get('img_shape', inputs.shape[-2:])[:2])
            if labels is None:  # every class that has prototypes
                found = {
                    c: self.class_prototypes(c, inputs.device, False)
                    for c in range(num_classes)
                }
                protos = {c: p for c, p in found.items() if p is not None}
            else:
                protos = {
                    c: self.class_prototypes(c, inputs.device)
                    for c in labels[i].nonzero().flatten().tolist()
                }
            maps = lpcam_multi_scale(
                self.head_features,
                inputs[i:i + 1, :, :h, :w],
                protos,
                scales=cfg.get('scales', (1.0, )),
                input_resize=cfg.get('input_resize', 'scale_factor'),
                img_norm=img_norm,
                out_stride=cfg.get('out_stride'),
                scale_merge=self.scale_merge,
                align_corners=cfg.get('align_corners', False))
            cam = inputs.new_zeros((1, num_classes, h, w))
            if protos:
                cam[0, list(protos)] = maps
            if meta.get('flip', False):
                cam = cam.flip(-1 if meta.get('flip_direction') == 'horizontal' else -2)
            ori = tuple(meta.get('ori_shape', (h, w))[:2])
            if ori != (h, w):
                cam = F.interpolate(
                    cam, size=ori, mode='bilinear', align_corners=cfg.get('align_corners', False))
            outputs.append(cam[0])
        return outputs
