"""PSDPM: prototype-based secondary discriminative pixels mining (Zhao et al., CVPR'24).

Official code: xinqiaozhao/PSDPM ``network/resnet50_psdpm.py`` (``Net.forward``,
``Net.PCM`` / ``PCM2`` / ``PCM3``, ``Net.prototype``, ``CAM.forward``), as released
(methods-prototype.md §6). Every step is a plain tensor function; :class:`PSDPMHead` holds
the weights and chains them.

Shapes: ``B`` images, ``C`` foreground classes, ``K = 1 + C`` (channel 0 = background).
Levels are in stage order ``(x2, x3, x4)`` (ResNet-50 strides (2, 2, 2, 1): strides 8, 16,
16); ``h x w`` is the x4 grid, on which every CAM is compared.

1. :func:`multi_level_cam`: a 1x1 classifier per level; each CAM ``relu / (max + 1e-5)``
   with bg = ``1 - max fg`` (SIPE's :func:`~.sipe_head.sipe_norm_cam`), bilinearly resized
   to the x4 grid (``align_corners=True``), times the valid mask, then
   ``(cam4 + 0.5 cam3 + 0.25 cam2) / 1.75`` (:func:`merge_levels`).
2. :func:`pcm_affinity` / :func:`pcm_attention` (``PCM``): ``g = relu(conv2(relu(conv1([rgb,
   x]))))``, ``aff = softmax(g^T g)`` over the last dim, ``att = (aff x^T)^T + 5 x``; the
   SAME classifiers on ``att`` give ``cam22`` (merged as 1.).
3. :func:`psdpm_score`: the sum of the 6 GAP logits (3 raw + 3 refined CAMs).
4. :func:`prototype_cam`: ``P_c = avgpool(cam22_c * hie)`` (soft weights, mean over all
   pixels) on the hierarchical feature of the REFINED levels (SIPE's
   :func:`~.sipe_head.hierarchical_feature` of side convs 512/1024/2048 -> 128/256/256, no
   side on x1), ``pcam_c = relu(cos(hie_raw, P_c))`` on the same side convs of the RAW
   levels, times the valid mask.
5. :func:`is_cam1`: inference (``make_cam.py``): the multi-level classifier CAM (1.) of the
   raw levels, summed over scales, ``/ (max + 1e-5)``, then ``IS_CAM1 = x + pad(x_fg,
   bg=0.4)``: channel 0 = bg + 0.4, fg x 2; argmax over bg + labelled classes.
"""
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..prototypes.functional import cosine_maps, masked_average
from ..utils.cam import labels_with_bg, normalize_cams
from .sipe_head import SIPEHead, hierarchical_feature, sipe_norm_cam


def merge_levels(maps: Sequence[Tensor], weights: Sequence[float]) -> Tensor:
    """``sum_l w_l map_l / sum_l w_l``: PSDPM's ``(cam4 + 0.5 cam3 + 0.25 cam2) / 1.75``.

    Args:
        maps: per level (B, K, h, w), same grid.
        weights: per level (stage order (x2, x3, x4): (0.25, 0.5, 1.0)).
    Returns:
        (B, K, h, w).
    """
    if len(maps) != len(weights):
        raise ValueError(f'{len(maps)} maps but {len(weights)} weights')
    total = sum(float(w) for w in weights)
    out = sum(float(w) * m for w, m in zip(weights, maps))
    return out / total


def multi_level_cam(cams: Sequence[Tensor],
                    size,
                    valid: Optional[Tensor],
                    weights: Sequence[float] = (0.25, 0.5, 1.0),
                    eps: float = 1e-5) -> Tensor:
    """The multi-level CAM (``orignal_cam`` / ``cam22`` of ``Net.forward``).

    Args:
        cams: raw classifier CAMs per level (B, C, h_l, w_l), stage order.
        size: (h, w) the x4 grid.
        valid: (B, K, h, w) valid mask (training: un-padded region x labels, bg kept;
            inference: (B, K, 1, 1) labels with bg = 1), or None.
        weights: of :func:`merge_levels`.
        eps: of the max normalisation.
    Returns:
        (B, K, h, w): each level max-normalised with bg = 1 - max fg, resized
        (``align_corners=True``), masked, then merged.
    """
    return merge_levels([sipe_norm_cam(c, tuple(size), valid, eps) for c in cams], weights)


def pcm_affinity(g: Tensor) -> Tensor:
    """``aff = softmax(g^T g, dim=-1)`` of ``PCM``.

    Args:
        g: (B, D, h, w) embedding (after the two ReLU convs).
    Returns:
        (B, hw, hw); row i sums to 1 (``aff[b, i, j]`` weighs pixel j for pixel i).
    """
    b, d = g.shape[:2]
    f = g.reshape(b, d, -1)
    return F.softmax(torch.bmm(f.transpose(1, 2), f), dim=-1)


def pcm_attention(aff: Tensor, x: Tensor, residual: float = 5.0) -> Tensor:
    """``att = (aff x^T)^T + 5 x`` (``attn_output.transpose(1, 2).reshape + x * 5``).

    Args:
        aff: (B, hw, hw) from :func:`pcm_affinity`.
        x: (B, C, h, w) the raw level feature.
        residual: factor of the raw feature (5).
    Returns:
        (B, C, h, w).
    """
    b, c, h, w = x.shape
    out = torch.bmm(aff, x.reshape(b, c, h * w).transpose(1, 2))  # (B, hw, C)
    return out.transpose(1, 2).reshape(b, c, h, w) + residual * x


def psdpm_score(logits: Sequence[Tensor]) -> Tensor:
    """The classification score: the sum of the GAP logits, each (B, C) -> (B, C)."""
    return torch.stack(list(logits), 0).sum(0)


def prototype_cam(weights: Tensor,
                  hie: Tensor,
                  hie_raw: Tensor,
                  valid: Optional[Tensor] = None) -> Tensor:
    """``Net.prototype``: soft class prototypes on ``hie``, cosine maps on ``hie_raw``.

    Args:
        weights: (B, K, h', w') soft CAM (``cam22``), nearest-resized to the feature grid
            (an identity on the official grids).
        hie: (B, D, h, w) hierarchical feature of the attention-refined levels.
        hie_raw: (B, D, h, w) the same side convs on the raw levels.
        valid: optional (B, K, h, w) mask applied to the result (``pcam * valid_mask``).
    Returns:
        (B, K, h, w) ``relu(cos(hie_raw, P_k))`` with ``P_k = sum_i w_k(i) hie(i) / (h w)``
        (adaptive average pooling: NOT divided by the weight mass, the cosine removes the
        scale). Gradients flow into the prototypes through ``weights`` (no detach, as
        the official).
    """
    if weights.shape[-2:] != hie.shape[-2:]:
        weights = F.interpolate(weights, size=hie.shape[-2:], mode='nearest')
    protos = masked_average(hie, weights, reduction='area')  # (B, K, D)
    pcam = F.relu(cosine_maps(hie_raw, protos))
    if valid is not None:
        if valid.shape[-2:] != pcam.shape[-2:] and valid.shape[-1] != 1:
            raise ValueError(f'the hierarchical-feature grid {tuple(pcam.shape[-2:])} differs '
                             f'from the CAM grid {tuple(valid.shape[-2:])}: PSDPM needs the '
                             'ref side on the x4 grid')
        pcam = pcam * valid
    return pcam


def is_cam1(merged: Tensor, bg_pad: float = 0.4, eps: float = 1e-5) -> Tensor:
    """``make_cam.py``'s ``IS_CAM1`` from the scale-summed multi-level CAM.

    Args:
        merged: (B, K, H, W) the sum over scales of the multi-level CAMs (at image size).
        bg_pad: the constant padded in front of the fg channels (0.4).
        eps: of ``/ (max + eps)``.
    Returns:
        (B, K, H, W) ``x + pad(x[1:], bg=0.4)`` with ``x = merged / (max + eps)``:
        channel 0 = x_bg + 0.4, fg channels 2 x_fg.
    """
    x = normalize_cams(merged, 'max', eps)
    pad = torch.cat([torch.full_like(x[:, :1], float(bg_pad)), x[:, 1:]], 1)
    return x + pad


@MODELS.register_module()
class PSDPMHead(SIPEHead):
    """PSDPM's classifiers (x2 / x3 / x4), PCM convs and side convs.

    Reads the backbone outputs followed by the input image (``AppendInput``). ``forward``
    is the CAM head's (the x4 classifier ``conv_seg`` + GAP: what the chassis' branch
    forward and a plain CAM inference use); :meth:`train_outputs` runs the whole
    ``Net.forward``; :meth:`label_cam_fn` is ``CAM.forward`` + ``make_cam.py``.

    Args:
        in_channels: channels of x4 (2048).
        num_classes: C foreground classes.
        level_in_channels: channels of (x2, x3, x4) (512, 1024, 2048).
        level_indices: their positions in the backbone output tuple.
        img_index: position of the appended image (-1).
        side_channels: side conv outputs per level (128, 256, 256); ``hie_fea`` on the
            grid of side ``ref_side`` (x3: 1).
        level_weights: of :func:`merge_levels` in stage order ((0.25, 0.5, 1.0): /1.75).
        residual: the ``+ 5 x`` of :func:`pcm_attention`.
        bg_pad: of :func:`is_cam1`.
        test_flip: ``CAM.forward`` runs the image and its flip but returns the image's CAM
            only (``orignal_cam[0]``): False (default) reproduces that; True averages the
            flip's (un-flipped) multi-level CAM in, as SIPE fuses its flips.
        init_cfg: None: PyTorch's default init for every new layer, as the official
            (no explicit init in ``Net.__init__``).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 level_in_channels: Sequence[int] = (512, 1024, 2048),
                 level_indices: Sequence[int] = (0, 1, 2),
                 img_index: int = -1,
                 side_channels: Sequence[int] = (128, 256, 256),
                 ref_side: int = 1,
                 level_weights: Sequence[float] = (0.25, 0.5, 1.0),
                 residual: float = 5.0,
                 bg_pad: float = 0.4,
                 test_flip: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if len(level_in_channels) != len(level_indices):
            raise ValueError('level_in_channels and level_indices differ in length')
        if len(level_weights) != len(level_in_channels):
            raise ValueError('one level weight per level')
        if int(level_in_channels[-1]) != int(in_channels):
            raise ValueError(f'in_channels {in_channels} must be the last level '
                             f'({level_in_channels[-1]}): conv_seg is the x4 classifier')
        kwargs.pop('in_index', None)
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            side_in_channels=tuple(level_in_channels),
            side_channels=tuple(side_channels),
            side_indices=tuple(level_indices),
            ref_side=ref_side,
            detach_sides=False,  # PSDPM detaches nothing
            in_index=level_indices[-1],
            init_cfg=init_cfg,
            **kwargs)
        self.level_indices = tuple(level_indices)
        self.img_index = img_index
        self.level_weights = tuple(float(w) for w in level_weights)
        self.residual = float(residual)
        self.bg_pad = float(bg_pad)
        self.test_flip = bool(test_flip)
        # classifiers of the lower levels (the official classifier3 on x2, classifier2 on
        # x3); the x4 classifier is conv_seg
        self.aux_classifiers = nn.ModuleList(
            [nn.Conv2d(c, num_classes, 1, bias=False) for c in level_in_channels[:-1]])
        # PCM embeddings: f11 / f10 / f9 ([rgb, x] -> C) and f11_2 / f10_2 / f9_2 (C -> C)
        self.pcm_in = nn.ModuleList([nn.Conv2d(c + 3, c, 1, bias=False) for c in level_in_channels])
        self.pcm_out = nn.ModuleList([nn.Conv2d(c, c, 1, bias=False) for c in level_in_channels])

    # ------------------------------------------------------------ pieces
    def classifier(self, level: int) -> nn.Conv2d:
        return self.conv_seg if level == len(self.level_indices) - 1 \
            else self.aux_classifiers[level]

    def levels(self, feats: Sequence[Tensor]) -> List[Tensor]:
        return [feats[i] for i in self.level_indices]

    def classifier_cams(self, xs: Sequence[Tensor]) -> List[Tensor]:
        """Raw CAMs (B, C, h_l, w_l) of each level's classifier."""
        return [self.classifier(i)(x) for i, x in enumerate(xs)]

    def refine(self, xs: Sequence[Tensor], img: Tensor) -> List[Tensor]:
        """``att_l`` (B, C_l, h_l, w_l) of ``PCM`` / ``PCM2`` / ``PCM3``; the image is
        bilinearly resized to each level (``align_corners=True``)."""
        atts = []
        for conv_in, conv_out, x in zip(self.pcm_in, self.pcm_out, xs):
            rgb = F.interpolate(img, size=x.shape[-2:], mode='bilinear', align_corners=True)
            g = F.relu(conv_out(F.relu(conv_in(torch.cat([rgb, x], 1)))))
            atts.append(pcm_attention(pcm_affinity(g), x, self.residual))
        return atts

    def hie_of(self, xs: Sequence[Tensor]) -> Tensor:
        """SIPE's hierarchical feature of the side convs on ``xs`` (B, 640, h, w)."""
        return hierarchical_feature([conv(x) for conv, x in zip(self.sides, xs)], self.ref_side)

    def train_outputs(self, feats: Sequence[Tensor], valid: Tensor) -> Dict[str, Tensor]:
        """``Net.forward`` on one batch.

        Args:
            feats: backbone outputs + image.
            valid: (B, K, h, w) valid mask on the x4 grid (bg = un-padded region, fg x
                labels).
        Returns:
            dict of ``score`` (B, C) (6 GAP logits summed), ``orig`` (B, K, h, w) the
            multi-level classifier CAM (``affsum``), ``cam22`` (B, K, h, w) the refined one,
            ``pcam`` (B, K, h, w) the prototype CAM.
        """
        xs = self.levels(feats)
        img = feats[self.img_index]
        size = tuple(xs[-1].shape[-2:])
        cams = self.classifier_cams(xs)
        atts = self.refine(xs, img)
        cams_att = self.classifier_cams(atts)
        score = psdpm_score([c.mean((2, 3)) for c in cams + cams_att])
        orig = multi_level_cam(cams, size, valid, self.level_weights)
        cam22 = multi_level_cam(cams_att, size, valid, self.level_weights)
        pcam = prototype_cam(cam22, self.hie_of(atts), self.hie_of(xs), valid)
        return dict(score=score, orig=orig, cam22=cam22, pcam=pcam)

    # ------------------------------------------------------------ inference
    def label_cam_fn(self,
                     branch,
                     img_labels: Tensor,
                     data_samples=None) -> Callable[[Tensor], Tensor]:
        """``x (B, 3, h, w) -> orig (B, K, h', w')`` at one scale (``CAM.forward``): the
        multi-level classifier CAM of the raw levels, masked by the labels (bg = 1)."""
        labels = labels_with_bg(img_labels)

        def fn(x: Tensor) -> Tensor:
            n = x.shape[0]
            inp = torch.cat([x, x.flip(-1)], 0) if self.test_flip else x
            xs = self.levels(branch.extract_feat(inp))
            size = tuple(xs[-1].shape[-2:])
            cams = self.classifier_cams(xs)
            if self.test_flip:
                orig = multi_level_cam([c[:n] for c in cams], size, labels, self.level_weights)
                flip = multi_level_cam([c[n:] for c in cams], size, labels, self.level_weights)
                return (orig + flip.flip(-1)) / 2
            return multi_level_cam(cams, size, labels, self.level_weights)

        return fn

    def merge_label_cams(self, per_scale: Sequence[Tensor], scales: Sequence[float]) -> Tensor:
        """``make_cam.py``: :func:`is_cam1` of the per-scale maps (each (1, K, H, W) at the
        image size) summed, divided by 2 (its upper bound; the argmax of ``eval_cam.py``
        is unchanged) so that the saved scores lie in [0, 1]."""
        return is_cam1(torch.stack(list(per_scale), 0).sum(0), self.bg_pad) / 2.0
