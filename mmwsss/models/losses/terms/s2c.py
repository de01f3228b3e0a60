"""S2C's losses (Kweon & Yoon, CVPR'24; sangrockEG/S2C ``models/model_s2c.py::update``).

``loss = W0 * L_cls + W1 * L_ssc + W2 * L_cpm`` with W = (1, 1, 1):

* ``L_cls``: ``BCEWithLogits(GAP(cam), label)`` = the head's ``MultiLabelSoftMarginLoss``
  (:class:`~mmwsss.models.losses.terms.common.ClsTerm`);
* ``L_ssc`` (SAM segment contrasting, :func:`ssc_loss`): per-pixel CE of the cosine
  similarities between the (upsampled, normalised) fc8 features and the mean feature
  of every SAM segment, target = the pixel's own segment, index 0 (no mask) ignored;
* ``L_cpm`` (CAM-based prompting, :func:`cpm_loss`): CE of the normalised CAMs + a
  ``1 - max`` background channel against the SAM pseudo label of
  :func:`~mmwsss.models.foundation.s2c_sam.cpm_pseudo_label`, from epoch ``sstart - 1 = 1``
  on (``use_cpm = epo > sstart - 1``).

Every formula is a plain tensor function next to its term.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from .base import LossTerm

__all__ = [
    's2c_cam_norm', 's2c_multi_scale_cam', 'segment_prototypes', 'ssc_loss', 'cpm_loss',
    'S2CSSCTerm', 'S2CCPMTerm'
]


def s2c_cam_norm(cam: Tensor) -> Tensor:
    """``relu(cam) / (adaptive_max_pool2d(relu(cam), 1) + 1e-5)``: (B, C, h, w)."""
    cam = F.relu(cam)
    return cam / (F.adaptive_max_pool2d(cam, (1, 1)) + 1e-5)


@torch.no_grad()
def s2c_multi_scale_cam(
    cam_fn: Callable[[Tensor], Tensor],
    inputs: Tensor,
    img_labels: Tensor,
    scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0)) -> Tensor:
    """CPM's MS-CAM (no flip): per scale, the normalised input resized with
    ``F.interpolate(scale_factor=s, bilinear, align_corners=True)`` (scale 1: as is),
    the raw CAM resized to (H, W) (bilinear, align_corners=False), ReLU, times the
    label; summed over scales, then / (per-map max + 1e-5).

    Args:
        cam_fn: images (B, 3, h, w) -> raw CAMs (B, C, h', w') (the net in eval mode).
        inputs: (B, 3, H, W) normalised images.
        img_labels: (B, C) multi-hot.
    Returns:
        (B, C, H, W) in [0, 1).
    """
    h, w = inputs.shape[-2:]
    total = None
    for s in scales:
        x = inputs if s == 1.0 else F.interpolate(
            inputs, scale_factor=s, mode='bilinear', align_corners=True)
        cam = F.relu(F.interpolate(cam_fn(x), (h, w), mode='bilinear', align_corners=False))
        cam = cam * img_labels[:, :, None, None].to(cam)
        total = cam if total is None else total + cam
    return total / (F.adaptive_max_pool2d(total, (1, 1)) + 1e-5)


def segment_prototypes(feats: Tensor, index: Tensor, num: int) -> Tuple[Tensor, Tensor]:
    """SSC's prototypes: ``normalize(scatter_mean(feats, index))`` per image.

    Args:
        feats: (B, D, P) features (already L2-normalised per pixel in S2C).
        index: (B, P) long segment index of every pixel, < ``num``.
        num: N, the number of prototype columns.
    Returns:
        prototypes (B, D, N), L2-normalised (all-zero for an index with no pixel), and
        pixel counts (B, N).
    """
    b, d = feats.shape[:2]
    # segment means by index: scatter-add, as (B, N, H, W) one-hot weights (what
    # prototypes.functional.masked_average takes) would be N (~100 segments for SAM
    # vit_h) times the size of the feature map
    sums = feats.new_zeros(b, d, num).scatter_add_(2, index[:, None].expand(-1, d, -1), feats)
    counts = feats.new_zeros(b, num).scatter_add_(1, index,
                                                  torch.ones_like(index, dtype=feats.dtype))
    return F.normalize(sums / counts.clamp(min=1)[:, None], dim=1), counts


def ssc_loss(feat: Tensor,
             segments: Tensor,
             temperature: float = 1.0,
             ignore_index: int = 0,
             columns: str = 'image') -> Tensor:
    """SAM segment contrasting.

    ``f = normalize(upsample(feat))`` (bilinear, align_corners=False, to the segment
    map's size); segment prototypes ``p_n = normalize(mean_{pixels of n} f.detach())``
    (the official ``torch_scatter.scatter_mean``); logits ``T * p_n . f`` per pixel;
    cross entropy with the pixel's own segment as target, pixels of ``ignore_index``
    (no SAM mask, crop padding) left out, mean over the remaining pixels of the batch.

    ``columns`` says which prototypes compete in the softmax:

    * ``'image'`` (default, the paper's sum over the image's segments): the segments
      present in that image, without the ignore index;
    * ``'batch'`` (the official code): ``N = max index over the whole batch + 1``
      columns for every image, so indices absent from an image (other images' segments,
      gaps left by the crop) have an all-zero prototype and add a logit 0 each, and the
      ignore index's own prototype (the uncovered pixels' mean) competes too.

    Args:
        feat: (B, D, h, w) fc8 features (gradient flows here only).
        segments: (B, H, W) long, 0..N-1.
    Returns:
        scalar; 0 (with a graph) when no pixel is valid (the official skips a NaN).
    """
    if columns not in ('image', 'batch'):
        raise ValueError(f"columns must be 'image' or 'batch', got {columns!r}")
    b, d = feat.shape[:2]
    size = segments.shape[-2:]
    f = F.interpolate(feat, size, mode='bilinear', align_corners=False)
    f = F.normalize(f, dim=1).flatten(2)  # (B, D, HW)
    idx = segments.reshape(b, -1).long()  # (B, HW)
    n = int(idx.max()) + 1
    protos, counts = segment_prototypes(f.detach(), idx, n)
    logits = torch.bmm(protos.transpose(1, 2), f) * temperature  # (B, N, HW)
    if columns == 'image':
        keep = counts > 0
        if 0 <= ignore_index < n:
            keep[:, ignore_index] = False
        # an image without any segment keeps its columns: a row of -inf only would make
        # log_softmax NaN, and its NaN gradient reaches feat even though no pixel is used
        keep[~keep.any(1)] = True
        logits = logits.masked_fill(~keep[:, :, None], float('-inf'))
    valid = idx != ignore_index
    if not bool(valid.any()):
        return feat.sum() * 0
    # target columns are always kept, so the -inf columns never reach a target
    logp = logits.log_softmax(1).gather(1, idx[:, None])[:, 0]
    return -(logp[valid]).mean()


def cpm_loss(cam: Tensor, img_labels: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """CPM: CE of the normalised CAMs + a background channel against the SAM label.

    ``cam_n = upsample(s2c_cam_norm(cam)) * label`` (bilinear, align_corners=False, to
    the label size), ``bg = 1 - max_c cam_n``; ``CE(cat(cam_n, bg), target)``: the
    normalised scores are the logits; background is the LAST channel (index C).

    Args:
        cam: (B, C, h, w) raw CAMs of the training forward.
        img_labels: (B, C) multi-hot.
        target: (B, H, W) long in [0, C] (C = background), ``ignore_index`` ignored.
    """
    cam = F.interpolate(s2c_cam_norm(cam), target.shape[-2:], mode='bilinear', align_corners=False)
    cam = cam * img_labels[:, :, None, None].to(cam)
    bg = 1 - cam.max(dim=1, keepdim=True)[0]
    return F.cross_entropy(torch.cat([cam, bg], 1), target.long(), ignore_index=ignore_index)


def _head_parts(ctx: TrainContext, branch: str, cam: str) -> Dict[str, Tensor]:
    head = ctx.extras['cam_heads'].get(cam)
    if head is None or not hasattr(head, 'forward_parts'):
        raise KeyError(f"CAM head '{cam}' must be an S2CCAMHead (forward_parts); heads: "
                       f"{sorted(ctx.extras['cam_heads'])}")
    return head.forward_parts(ctx.require('branches', branch).feats)


@MODELS.register_module()
class S2CSSCTerm(LossTerm):
    """``L_ssc`` on the fc8 features of CAM head ``cam`` and the batch's SAM segments.

    Args:
        branch / cam: the branch and its :class:`S2CCAMHead`.
        segments_key: the data-sample field of the (H, W) segment maps
            (``PackWSSSMaps(maps=('gt_sam_segments', ))``).
        temperature: T (official 1).
        columns: see :func:`ssc_loss` (``'batch'`` = the official code).
    """

    loss_keys = ('loss_ssc', )

    def __init__(self,
                 name: str = 'ssc',
                 branch: str = 'net',
                 cam: str = 'cam',
                 segments_key: str = 'gt_sam_segments',
                 temperature: float = 1.0,
                 columns: str = 'image',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if columns not in ('image', 'batch'):
            raise ValueError(f"columns must be 'image' or 'batch', got {columns!r}")
        self.branch, self.cam = branch, cam
        self.segments_key = segments_key
        self.temperature = float(temperature)
        self.columns = columns

    def segments(self, ctx: TrainContext) -> Tensor:
        """(B, H, W) long of the data samples' ``segments_key`` field."""
        maps = []
        for s in ctx.data_samples:
            if self.segments_key not in s:
                raise KeyError(f"data sample {s.metainfo.get('img_path')} has no "
                               f"'{self.segments_key}' (LoadSAMSegments ... PackWSSSMaps)")
            maps.append(getattr(s, self.segments_key).data[0])
        return torch.stack(maps).to(ctx.inputs.device).long()

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        feat = _head_parts(ctx, self.branch, self.cam)['feat']
        return dict(
            loss_ssc=ssc_loss(
                feat, self.segments(ctx), self.temperature, ignore_index=0, columns=self.columns))


@MODELS.register_module()
class S2CCPMTerm(LossTerm):
    """``L_cpm``: SAM prompted with the peaks of the net's own multi-scale CAM.

    Per step (no grad): the branch in eval mode gives :func:`s2c_multi_scale_cam`;
    SAM encodes the main view (uint8, resized to its square input) once; every present
    class prompts SAM with its peak points (:func:`cpm_pseudo_label`); the training
    forward's CAMs learn the label with :func:`cpm_loss`.

    Args:
        branch / cam: the branch and its CAM head.
        sam: ``SegmentAnything`` config, built on first use (not part of the state dict).
        scales: of the MS-CAM (0.5, 1, 1.5, 2).
        point_thr: ``th_multi`` (0.5), local peaks kept above it.
        min_distance: of ``peak_local_max`` (20).
        drop_first_peak: the official ``peaks_valid[1:]``.
        mask_index: SAM multimask output used (2).
        schedule: ``StepOn(start=iters_per_epoch - 1)`` is the official epoch >= 1.
    """

    loss_keys = ('loss_cpm', )

    def __init__(self,
                 name: str = 'cpm',
                 branch: str = 'net',
                 cam: str = 'cam',
                 sam: Optional[dict] = None,
                 scales: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                 point_thr: float = 0.5,
                 min_distance: int = 20,
                 drop_first_peak: bool = True,
                 mask_index: int = 2,
                 skip_when_off: bool = True,
                 **kwargs) -> None:
        super().__init__(name=name, skip_when_off=skip_when_off, **kwargs)
        from mmwsss.models.foundation.s2c_sam import S2CPrompter
        if sam is None:
            raise ValueError("S2CCPMTerm needs sam=dict(type='SegmentAnything', ...)")
        self.branch, self.cam = branch, cam
        # a plain attribute (S2CPrompter is no nn.Module): SAM stays out of the state dict
        self.prompter = S2CPrompter(dict(sam))
        self.scales = tuple(scales)
        self.point_thr = float(point_thr)
        self.min_distance = int(min_distance)
        self.drop_first_peak = drop_first_peak
        self.mask_index = int(mask_index)

    @torch.no_grad()
    def pseudo_label(self, ctx: TrainContext) -> Tensor:
        """(B, H, W) long in [0, C] (C = background) for the current batch."""
        from mmwsss.models.foundation.s2c_sam import cpm_pseudo_label
        module = ctx.extras['branch_modules'][self.branch]
        was_training = module.training
        module.train(False)  # official net_main.eval() for the MS-CAM (dropout off)
        try:
            cam_ms = s2c_multi_scale_cam(
                ctx.require('cam_fns', self.cam), ctx.inputs, ctx.img_labels, self.scales)
        finally:
            module.train(was_training)
        size = tuple(ctx.inputs.shape[-2:])
        feats = self.prompter.encode(self.prompter.prepare(ctx.img))
        label, _ = cpm_pseudo_label(
            cam_ms,
            ctx.img_labels,
            self.prompter.prompt_fn(feats, size),
            thr=self.point_thr,
            min_distance=self.min_distance,
            drop_first_peak=self.drop_first_peak,
            mask_index=self.mask_index)
        return label.to(ctx.inputs.device)

    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        label = self.pseudo_label(ctx)
        ctx.extras['s2c_cpm_label'] = label
        cam = ctx.require('cams', self.cam)
        fg = (label < cam.shape[1]).float().mean()
        return dict(loss_cpm=cpm_loss(cam, ctx.img_labels, label), cpm_fg_ratio=fg)
