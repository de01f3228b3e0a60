"""SIPE: image-specific prototypes and the IS-CAM (Chen et al., CVPR'22).

Official code: chenqi1126/SIPE ``network/resnet50_SIPE.py`` (``Net``, ``CAM``). Every step
is a plain tensor function here so that a checker can compare it with the official one on
identical inputs; :class:`SIPEHead` only holds the weights (classifier + side convs) and
chains the functions.

Shapes: ``B`` images, ``C`` foreground classes, ``K = 1 + C`` (channel 0 = background),
``h x w`` the stride-16 grid of the side-3 feature.

1. :func:`hierarchical_feature`: side 1x1 convs on the (detached) stage outputs, each
   L2-normalised per pixel (``x / (||x|| + 1e-5)``), bilinearly resized to the side-3 size
   (``align_corners=False``, torch's default that the code relies on) and concatenated.
2. :func:`sipe_norm_cam`: ``relu(cam) / (max + 1e-5)`` (the project's ``normalize_cams``),
   bg = ``1 - max_c``, resized to the side-3 grid (bilinear, ``align_corners=True``) and
   multiplied by the valid mask (image labels + un-padded region).
3. :func:`get_seed`: structure-aware seed locating: ``R = relu(F^T F)`` of L2-normalised
   features, ``IoU_c(i) = sum_j R_ij cam_c(j) / (sum_j R_ij + sum_j cam_c(j) - inter)``, the
   bg IoU x 0.5, one-hot argmax, times the valid mask / labels.
4. :func:`get_prototype`: ``adaptive_avg_pool(seed_c * hie_fea)``, the mean over ALL h*w
   pixels (``masked_average(reduction='area')``).
5. :func:`reactivate`: ``IS_cam = relu(cos(hie_fea, P_c))`` for all K channels.
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..prototypes.functional import cosine_maps, masked_average
from ..utils.cam import add_background, labels_with_bg, normalize_cams
from .cam_head import CAMHead


def l2_normalize_pixels(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``x / (||x||_2 over channels + eps)`` (SIPE's per-pixel normalisation; not
    ``F.normalize``, whose eps floors the norm instead of adding to it).

    Args:
        x: (B, D, h, w).
    Returns:
        (B, D, h, w).
    """
    return x / (torch.norm(x, dim=1, keepdim=True) + eps)


def hierarchical_feature(sides: Sequence[Tensor],
                         ref_index: int = 2,
                         eps: float = 1e-5,
                         align_corners: bool = False) -> Tensor:
    """SIPE's ``hie_fea``: L2-normalised side outputs resized to one grid, concatenated.

    Args:
        sides: side-conv outputs (B, D_l, h_l, w_l), in stage order.
        ref_index: the side whose size is the output grid (SIPE: side3, index 2).
        eps: of :func:`l2_normalize_pixels`.
        align_corners: of the bilinear resize (the official code uses the default, False).
    Returns:
        (B, sum D_l, h_ref, w_ref).
    """
    size = sides[ref_index].shape[-2:]
    outs = []
    for s in sides:
        s = l2_normalize_pixels(s, eps)
        outs.append(F.interpolate(s, size=size, mode='bilinear', align_corners=align_corners))
    return torch.cat(outs, 1)


def sipe_norm_cam(cam: Tensor,
                  size: Optional[Tuple[int, int]] = None,
                  valid: Optional[Tensor] = None,
                  eps: float = 1e-5) -> Tensor:
    """``norm_cam`` of ``Net.forward``: max-normalised fg CAMs with bg = 1 - max fg.

    Args:
        cam: (B, C, h', w') raw classifier CAMs (before ReLU).
        size: the grid to resize to (bilinear, ``align_corners=True``); None keeps h' x w'.
        valid: optional (B, K, h, w) (or broadcastable) valid mask: 1 on un-padded pixels
            for bg and for labelled fg classes.
        eps: of the max normalisation.
    Returns:
        (B, K, h, w), K = 1 + C.
    """
    norm = normalize_cams(F.relu(cam), 'max', eps)
    # 1 - max is >= 0 after the max normalisation, so add_background's clamp is a no-op
    norm = add_background(norm, power=1.0)
    if size is not None and tuple(norm.shape[-2:]) != tuple(size):
        # (the official call always resizes; to the same size it is an identity)
        norm = F.interpolate(norm, size=size, mode='bilinear', align_corners=True)
    if valid is not None:
        norm = norm * valid
    return norm


def get_seed(norm_cam: Tensor,
             valid: Tensor,
             feature: Tensor,
             bg_scale: float = 0.5,
             eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """Structure-aware seed locating (``Net.get_seed``).

    Args:
        norm_cam: (B, K, h, w) normalised CAMs, channel 0 = bg.
        valid: (B, K, h, w) or (B, K, 1, 1) mask the one-hot seeds are multiplied by
            (training: the valid mask; inference: the labels with bg = 1).
        feature: (B, D, h, w) the feature whose self-correlation is used (training: the
            classifier's input x4; inference in the official code: ``hie_fea``).
        bg_scale: factor of the background IoU (0.5).
        eps: of the feature L2 normalisation.
    Returns:
        seeds (B, K, h, w) one-hot (x valid), and ``probs`` = softmax of the IoU map (the
        official function returns it; SIPE never uses it).
    """
    b, k, h, w = norm_cam.shape
    if feature.shape[-2:] != norm_cam.shape[-2:]:
        raise ValueError(f'feature grid {tuple(feature.shape[-2:])} differs from the CAM grid '
                         f'{(h, w)}')
    f = feature.reshape(b, -1, h * w)
    f = f / (torch.norm(f, dim=1, keepdim=True) + eps)
    corr = F.relu(torch.bmm(f.transpose(1, 2), f))  # (B, hw_i, hw_j)
    cam = norm_cam.reshape(b, k, h * w)
    inter = torch.einsum('bij,bkj->bki', corr, cam)  # sum_j R_ij cam_k(j)
    union = corr.sum(-1)[:, None, :] + cam.sum(-1, keepdim=True) - inter
    iou = (inter / union).reshape(b, k, h, w)
    scale = torch.ones(k, dtype=iou.dtype, device=iou.device)
    scale[0] = bg_scale
    iou = iou * scale[None, :, None, None]
    probs = F.softmax(iou, dim=1)
    seeds = F.one_hot(iou.argmax(1), k).permute(0, 3, 1, 2).to(norm_cam.dtype)
    return seeds * valid, probs


def get_prototype(seeds: Tensor, feature: Tensor) -> Tensor:
    """Image-specific prototypes (``Net.get_prototype``).

    Args:
        seeds: (B, K, h', w') one-hot seeds, nearest-resized to the feature grid.
        feature: (B, D, h, w) ``hie_fea``.
    Returns:
        (B, K, D): ``sum_i seed_k(i) f(i) / (h * w)`` (adaptive average pooling of
        ``seed * feature``: NOT divided by the seed area; the cosine that follows removes
        the scale). An empty seed gives a zero prototype, hence a zero IS-CAM channel.
    """
    if seeds.shape[-2:] != feature.shape[-2:]:
        seeds = F.interpolate(seeds, size=feature.shape[-2:], mode='nearest')
    return masked_average(feature, seeds, reduction='area')


def reactivate(prototypes: Tensor, feature: Tensor) -> Tensor:
    """IS-CAM (``Net.reactivate``): ``relu(cos(feature, P_k))``.

    Args:
        prototypes: (B, K, D).
        feature: (B, D, h, w).
    Returns:
        (B, K, h, w). (The official bilinear resize to the same size is an identity.)
        torch's ``cosine_similarity`` floors the product of the norms at 1e-8, the
        project's ``cosine_maps`` each norm: they differ only for a zero prototype, which
        gives 0 either way.
    """
    return F.relu(cosine_maps(feature, prototypes))


@MODELS.register_module()
class SIPEHead(CAMHead):
    """SIPE's classifier + side convolutions (the ``newly_added`` layers).

    ``forward`` is the CAM head's: ``(logits (B, C), raw cams (B, C, h, w))`` from a 1x1
    classifier without bias on ``in_index`` (x4) and GAP. :meth:`hie_fea` builds the
    hierarchical feature from the stage outputs given by ``side_indices``;
    :meth:`is_cam` runs seed -> prototype -> reactivate.

    Args:
        in_channels: channels of the classifier's level (x4: 2048).
        num_classes: C foreground classes.
        side_in_channels: channels of each side level (R50: 256, 512, 1024, 2048).
        side_channels: side conv outputs (128, 128, 256, 256).
        side_indices: which backbone outputs feed the sides (default: 0..3).
        ref_side: the side whose grid the hierarchical feature uses (side3: 2).
        detach_sides: the sides read detached stage outputs (SIPE: yes; POT: no).
        bg_scale: background IoU factor of :func:`get_seed` (0.5).
        train_seed_feature / test_seed_feature: ``'cls'`` (the classifier's input, x4) or
            ``'hie'`` (``hie_fea``): the feature of :func:`get_seed`. The official code
            uses x4 in training (``Net.forward``) and hie_fea at inference (``CAM.forward``)
            (the released numbers come from this pairing: the default).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 side_in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 side_channels: Sequence[int] = (128, 128, 256, 256),
                 side_indices: Optional[Sequence[int]] = None,
                 ref_side: int = 2,
                 detach_sides: bool = True,
                 bg_scale: float = 0.5,
                 train_seed_feature: str = 'cls',
                 test_seed_feature: str = 'hie',
                 in_index: int = -1,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', std=0.01, override=dict(name='conv_seg')),
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            pool='gap',
            in_index=in_index,
            init_cfg=init_cfg,
            **kwargs)
        if len(side_in_channels) != len(side_channels):
            raise ValueError('side_in_channels and side_channels differ in length')
        for name in (train_seed_feature, test_seed_feature):
            if name not in ('cls', 'hie'):
                raise ValueError(f"seed feature must be 'cls' or 'hie', got {name!r}")
        # the official sides are bias-free 1x1 convs with PyTorch's default init
        self.sides = nn.ModuleList(
            [nn.Conv2d(i, o, 1, bias=False) for i, o in zip(side_in_channels, side_channels)])
        self.side_indices = tuple(side_indices) if side_indices is not None else tuple(
            range(len(self.sides)))
        if len(self.side_indices) != len(self.sides):
            raise ValueError('side_indices must name one backbone output per side conv')
        self.ref_side = ref_side
        self.detach_sides = detach_sides
        self.bg_scale = bg_scale
        self.train_seed_feature = train_seed_feature
        self.test_seed_feature = test_seed_feature

    @property
    def num_channels_hie(self) -> int:
        return sum(s.out_channels for s in self.sides)

    def side_inputs(self, feats: Sequence[Tensor]) -> list:
        """The stage outputs read by the sides (detached if ``detach_sides``)."""
        xs = [feats[i] for i in self.side_indices]
        return [x.detach() for x in xs] if self.detach_sides else xs

    def hie_fea(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, sum side_channels, h, w) hierarchical feature on the side-``ref_side`` grid."""
        sides = [conv(x) for conv, x in zip(self.sides, self.side_inputs(feats))]
        return hierarchical_feature(sides, self.ref_side)

    def cls_feature(self, feats: Sequence[Tensor]) -> Tensor:
        """The classifier's input (x4), (B, in_channels, h, w)."""
        return self._transform_inputs(feats) if isinstance(feats, (list, tuple)) else feats

    def is_cam(self,
               cam: Tensor,
               hie: Tensor,
               seed_feature: Tensor,
               valid: Tensor,
               seed_valid: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """``(norm_cam, seeds, IS_cam)``, each (B, K, h, w), on the grid of ``hie``.

        Args:
            cam: (B, C, h', w') raw classifier CAMs.
            hie: (B, D, h, w) hierarchical feature.
            seed_feature: (B, D', h, w) feature of :func:`get_seed`.
            valid: mask of ``norm_cam`` ((B, K, h, w) in training, None at inference).
            seed_valid: mask of the seeds (default: ``valid``).
        """
        norm_cam = sipe_norm_cam(cam, hie.shape[-2:], valid)
        seed_valid = valid if seed_valid is None else seed_valid
        # seeds are an argmax: no gradient flows through them (the official clones)
        seeds, _ = get_seed(norm_cam.detach(), seed_valid, seed_feature.detach(), self.bg_scale)
        protos = get_prototype(seeds, hie)
        return norm_cam, seeds, reactivate(protos, hie)

    def label_cam_fn(self,
                     branch,
                     img_labels: Tensor,
                     data_samples=None) -> Callable[[Tensor], Tensor]:
        """``x (B, 3, h, w) -> IS-CAM (B, K, h', w')`` at one scale (``CAM.forward``).

        The image and its flip run as one batch; their CAMs and hierarchical features
        are summed (the flip undone) BEFORE seeds and prototypes; the seeds are masked
        by the labels (bg always kept).
        """
        labels = labels_with_bg(img_labels)

        def fn(x: Tensor) -> Tensor:
            n = x.shape[0]
            feats = branch.extract_feat(torch.cat([x, x.flip(-1)], 0))
            _, cam = self.forward(feats)
            hie = self.hie_fea(feats)
            cam = cam[:n] + cam[n:].flip(-1)
            hie = hie[:n] + hie[n:].flip(-1)
            if self.test_seed_feature == 'hie':
                seed_feat = hie
            else:
                x4 = self.cls_feature(feats)
                seed_feat = x4[:n] + x4[n:].flip(-1)
            # CAM.forward: norm_cam is not masked; the seeds are masked by the labels
            _, _, is_cam = self.is_cam(cam, hie, seed_feat, None, seed_valid=labels)
            return is_cam

        return fn
