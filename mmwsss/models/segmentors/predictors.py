"""Prediction rules of single-stage models other than "decode head" and "CAM seeds".

A predictor is a registered callable ``predictor(model, inputs) -> (B, K, H, W)``
segmentation scores at the input size; :class:`SingleStageWSSS` (``test_cfg =
dict(predict_source='predictor', predictor=dict(type=...))``) hands them to mmseg's
``postprocess_result`` (un-padding, resize to ``ori_shape``, argmax) exactly like
decode-head logits.
"""
from typing import Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from ..label_sources.multi_scale import resolve_setting
from ..utils.cam_inference import multi_scale_cams


def seg_tags(seg_logits: Tensor, min_pixels: int = 5) -> Tensor:
    """Image tags from a segmentation map, MoRe ``infer_cam.py`` (``cam2seg``).

    The classes of ``argmax(seg_logits)`` (at the decoder's resolution), background
    dropped; then, in the official loop ``for id in unique[1:]``, a class with fewer than
    ``min_pixels`` pixels is dropped (``unique[1:]`` skips the smallest present id: the
    background when present, otherwise the smallest present class, whose count is then
    not checked, as in the official code).

    Args:
        seg_logits: (B, C + 1, h, w).

    Returns:
        (B, C) float multi-hot.
    """
    B, K = seg_logits.shape[:2]
    pred = seg_logits.argmax(1)
    tags = seg_logits.new_zeros(B, K - 1)
    for i in range(B):
        ids, counts = pred[i].unique(return_counts=True)  # sorted
        for j, (c, n) in enumerate(zip(ids.tolist(), counts.tolist())):
            if c == 0:
                continue
            tags[i, c - 1] = 0.0 if (j >= 1 and n < min_pixels) else 1.0
    return tags


@MODELS.register_module()
class CAM2SegPredictor:
    """MoRe's ``cam2seg`` (``tools/infer_cam.py --cam2seg True``): the segmentation is
    the thresholded CAM with PREDICTED tags.

    Per image: tags = classifier logits > 0 of ``cam_head``; when no class is predicted,
    the classes of the decode head's argmax with >= ``min_pixels`` pixels
    (:func:`seg_tags`). CAMs with ``multi_scale`` (official default: scale 1.0 with its
    flip, ToCo's merge), masked by the tags; scores = ``[bg_thr, cams]`` so that the
    argmax is ``cam_to_label(cams, tags, bkg_thre=bg_thr)`` (a pixel is background when
    its best tagged CAM is <= ``bg_thr``). Resizing the scores to ``ori_shape`` and then
    taking the argmax equals the official resize-the-CAM-then-threshold.

    Args:
        cam_head: the CAM head (classifier and CAM).
        branch: the branch holding it and the decode head (None: the model's
            ``predict_branch``).
        multi_scale: :func:`multi_scale_cams` setting (``preset`` allowed);
            ``refine_with_multiscale`` in the official script is
            ``scales=(1.0, 0.5, 0.75, 1.25, 1.5, 1.75, 2.0)``.
        bg_thr: background threshold (MoRe 0.5).
        min_pixels: see :func:`seg_tags`.
        tags: ``'pred'`` (cam2seg) or ``'seg'`` (always the seg-head tags).
    """

    def __init__(self,
                 cam_head: str = 'main',
                 branch: Optional[str] = None,
                 multi_scale: Optional[dict] = None,
                 bg_thr: float = 0.5,
                 min_pixels: int = 5,
                 tags: str = 'pred') -> None:
        if tags not in ('pred', 'seg'):
            raise ValueError(f"tags must be 'pred' or 'seg', got {tags!r}")
        self.cam_head, self.branch = cam_head, branch
        self.multi_scale = resolve_setting(multi_scale or dict(preset='toco', scales=(1.0, )))
        self.bg_thr, self.min_pixels, self.tags = float(bg_thr), int(min_pixels), tags

    @torch.no_grad()
    def __call__(self, model, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) normalised inputs -> (B, C + 1, H, W) scores."""
        name = self.branch or model.predict_branch
        out = model.branches[name](inputs, cam_names=[self.cam_head], with_seg=True)
        if out.seg_logits is None:
            raise KeyError(f"CAM2SegPredictor: branch '{name}' has no decode head")
        from_seg = seg_tags(out.seg_logits, self.min_pixels)
        tags = from_seg
        if self.tags == 'pred':
            pred = (out.logits[self.cam_head] > 0).to(from_seg)
            none = pred.sum(1, keepdim=True) <= 0
            tags = torch.where(none, from_seg, pred)
        cams = multi_scale_cams(
            model.branch_cam_fn(name, [self.cam_head]), inputs, **self.multi_scale)
        cams = cams * tags[..., None, None].to(cams)
        bg = cams.new_full((cams.shape[0], 1, *cams.shape[-2:]), self.bg_thr)
        return torch.cat([bg, cams], 1)
