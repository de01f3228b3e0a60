"""PBIP's fused CAM inference on the single-stage chassis (``utils/validate.py``).

Per test-time augmentation (ttach ``HorizontalFlip`` x ``Multiply([0.9, 1.0, 1.1])``, on
the NORMALISED input), per stage s in (2, 3, 4): sub-class CAMs merged to parents with the
softmax-weighted sum, then ``get_seg_label``: ReLU, min-max per channel (+1e-6), times the
image label, bilinear to the input size, flip undone. The TTA maps are averaged, fused as
``0.3 cam2 + 0.3 cam3 + 0.4 cam4`` and the label is the argmax over the TISSUE classes:
the background map ``(1 - max) ** 10`` the official code computes is discarded, so the
prediction never says background.
"""
from typing import Callable, Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.structures.img_labels import stack_img_labels
from ..heads.pbip_head import merge_subclasses
from .single_stage import SingleStageWSSS


def seg_label_cams(parent_cams: Tensor, img_labels: Tensor, size) -> Tensor:
    """``get_seg_label`` without its discarded background: (B, C, h, w) -> (B, C, H, W).

    ReLU, per-channel ``(x - min) / (max - min + 1e-6)``, times ``img_labels`` (B, C),
    bilinear (align_corners=False) to ``size``.
    """
    x = parent_cams.clamp(min=0)
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    x = (x - lo) / (hi - lo + 1e-6) * img_labels[:, :, None, None].to(x.dtype)
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def pbip_fused_cams(stage_cams_fn: Callable[[Tensor], Dict[str, Tensor]],
                    inputs: Tensor,
                    img_labels: Tensor,
                    k_list: Sequence[int],
                    weights: Dict[str, float],
                    factors: Sequence[float] = (0.9, 1.0, 1.1),
                    flip: bool = True,
                    merge: str = 'softmax') -> Tensor:
    """The fused CAM ``sum_s w_s mean_tta(seg_label(merge(cam_s)))``.

    Args:
        stage_cams_fn: normalised images (B, 3, H, W) -> {head name: (B, K, h, w)}.
        inputs: (B, 3, H, W) normalised images.
        img_labels: (B, C) multi-hot (GT labels at evaluation, as in ``validate``).
        weights: {head name: weight}, e.g. {'cam2': 0.3, 'cam3': 0.3, 'cam4': 0.4}.
        factors: ttach Multiply factors; flip: add the horizontal flip (ttach order:
            flip outer, factors inner; the order does not change a mean).
    Returns:
        (B, C, H, W) fused maps in [0, 1].
    """
    size = inputs.shape[-2:]
    acc = {name: 0.0 for name in weights}
    n = 0
    for flipped in ((False, True) if flip else (False, )):
        for f in factors:
            x = inputs.flip(-1) if flipped else inputs
            cams = stage_cams_fn(x * f)
            for name in weights:
                m = seg_label_cams(merge_subclasses(cams[name], k_list, merge), img_labels, size)
                acc[name] = acc[name] + (m.flip(-1) if flipped else m)
            n += 1
    return sum(w * acc[name] / n for name, w in weights.items())


@MODELS.register_module()
class PBIPSegmentor(SingleStageWSSS):
    """:class:`SingleStageWSSS` whose ``predict`` is PBIP's fused CAM (``predict_source``
    must be ``'cam'``).

    ``test_cfg`` keys: ``fuse`` ({CAM head: weight}, default cam2/3/4 at 0.3/0.3/0.4),
    ``tta_factors`` (0.9, 1.0, 1.1), ``tta_flip`` (True), ``merge`` ('softmax', the
    official ``merge_test='max'``), ``use_img_labels`` (True). ``predict`` gives
    ``cams`` (C, H_ori, W_ori) and ``pred_sem_seg`` = argmax + 1 (never background).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        cfg = self.test_cfg
        self.fuse = dict(cfg.get('fuse', dict(cam2=0.3, cam3=0.3, cam4=0.4)))
        for name in self.fuse:
            if name not in self._head_branch:
                raise KeyError(f"test_cfg.fuse names CAM head '{name}'; heads: "
                               f'{sorted(self._head_branch)}')
        branches = {self._head_branch[n] for n in self.fuse}
        if len(branches) != 1:
            raise ValueError('the fused CAM heads must belong to one branch')
        self.fuse_branch = branches.pop()

    def _stage_cams(self, x: Tensor) -> Dict[str, Tensor]:
        out = self.branches[self.fuse_branch](x, cam_names=list(self.fuse), with_seg=False)
        return out.cams

    @torch.no_grad()
    def predict_cams(self, inputs: Tensor, data_samples: OptSampleList = None) -> List[Tensor]:
        cfg = self.test_cfg
        head = self.branches[self.fuse_branch].cam_heads[next(iter(self.fuse))]
        num_fg = head.num_classes
        metas = [s.metainfo for s in data_samples] if data_samples is not None \
            else [{} for _ in range(inputs.shape[0])]
        if data_samples is not None and cfg.get('use_img_labels', True):
            labels = stack_img_labels(data_samples, num_fg, inputs.device)
        else:
            labels = inputs.new_ones(inputs.shape[0], num_fg)
        outputs = []
        full = tuple(inputs.shape[-2:])
        for i, meta in enumerate(metas):
            h, w = tuple(meta.get('img_shape', full))[:2]
            fused = pbip_fused_cams(
                self._stage_cams,
                inputs[i:i + 1, :, :h, :w],
                labels[i:i + 1],
                head.k_list,
                self.fuse,
                factors=tuple(cfg.get('tta_factors', (0.9, 1.0, 1.1))),
                flip=cfg.get('tta_flip', True),
                merge=cfg.get('merge', 'softmax'))
            if meta.get('flip', False):
                fused = fused.flip(-1 if meta.get('flip_direction') == 'horizontal' else -2)
            ori = tuple(meta.get('ori_shape', (h, w)))[:2]
            if ori != (h, w):
                fused = F.interpolate(fused, size=ori, mode='bilinear', align_corners=False)
            outputs.append(fused[0])
        return outputs

    def predict_cam_samples(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        cams = self.predict_cams(inputs, data_samples)
        if data_samples is None:
            data_samples = [WSSSDataSample() for _ in cams]
        for sample, cam in zip(data_samples, cams):
            # argmax over the tissue classes only: +1 for mmwsss's background-first indices
            label = (cam.argmax(0, keepdim=True) + 1).long()
            sample.set_data({'cams': PixelData(data=cam), 'pred_sem_seg': PixelData(data=label)})
        return data_samples


def fused_label(fused: Tensor) -> Tensor:
    """(B, C, H, W) fused maps -> (B, H, W) mmwsss labels (argmax + 1, never 0)."""
    return fused.argmax(1) + 1
