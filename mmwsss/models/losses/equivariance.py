"""SEAM's and CPN's losses as plain tensor functions (checkable against the official code).

SEAM (YudeWang/SEAM ``train_SEAM.py``) and CPN (Ferenas/CPN ``train_cpn.py``) train a
ResNet-38 CAM network whose forward returns ``(cam, cam_rv)``: the raw fc8 CAM and the
PCM-refined CAM, both (N, 1 + C, H, W) at the input size, channel 0 a background channel
that the classifier never trains. Every function here takes such maps and the (N, C)
multi-hot image labels; the official code multiplies by ``label = [1, y]`` (N, 1 + C, 1, 1).

Official names -> functions:

==========================================  =============================================
``visualization.max_norm`` (torch, 4-D)     :func:`max_norm`
``train_SEAM.max_onehot``                   :func:`max_onehot` (``variant='seam'``)
``tool/imutils.max_onehot`` (CPN)           :func:`max_onehot` (``variant='cpn'``)
``torch.mean(torch.topk(t.view(n, -1),      :func:`ohem_mean`
k=int(21*h*w*0.2))[0])``
``adaptive_min_pooling_loss``               :func:`adaptive_min_pooling_loss`
inline L_ER / L_ECR of ``train_SEAM.py``    :func:`seam_er_loss`, :func:`seam_ecr_loss`,
                                            all of SEAM's step: :func:`seam_losses`
inline L_tcp / L_cpcr of ``train_cpn.py``   :func:`cpn_tcp_loss`, :func:`cpn_cpcr_loss`,
                                            all of CPN's step: :func:`cpn_losses`
==========================================  =============================================
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.cam import labels_with_bg, normalize_cams

OHEM_RATIO = 0.2  # "OHEM is 20%": top int(21 * h * w * 0.2) values per sample
MAX_ONEHOT_VARIANTS = ('seam', 'cpn')


def max_norm(p: Tensor, eps: float = 1e-5) -> Tensor:
    """SEAM's ``max_norm``: ``relu(relu(p) - min - eps) / (max - min + eps)`` per map.

    Args:
        p: (N, K, H, W) maps; min / max over each (H, W) map of ``relu(p)``.
    Returns:
        (N, K, H, W) in [0, 1).
    """
    return normalize_cams(F.relu(p), 'minmax_seam', eps)


def bg_from_fg(cam: Tensor) -> Tensor:
    """``cam[:, 0] = 1 - max_{c >= 1} cam[:, c]``, out of place (the official assigns in place).

    The gradient is the official one: it flows into the fg channels through the max and
    the old channel 0 gets none. Shapes: (N, 1 + C, H, W) -> same.
    """
    bg = 1 - cam[:, 1:].max(1, keepdim=True)[0]
    return torch.cat([bg, cam[:, 1:]], 1)


def max_onehot(x: Tensor, variant: str = 'seam', inplace: bool = False) -> Tensor:
    """Zero every value that is not its pixel's maximum; the maxima keep their VALUE (not 1).

    Args:
        x: (N, 1 + C, H, W).
        variant: ``'seam'`` (``train_SEAM.py``): the max is taken over the fg channels
            1..C, non-max fg values are zeroed, channel 0 is left as is.
            ``'cpn'`` (CPN ``tool/imutils.py``): the max is over ALL 1 + C channels
            (background included) and every other value is zeroed.
            Ties keep every maximal value in both.
        inplace: the official functions write into ``x`` (``x[mask] = 0``) and are called
            on ``t.detach()``, which shares ``t``'s storage, so ``t`` itself changes.
            In both official training loops the mutated tensor is not read again (SEAM)
            or is a fresh difference (CPN), so the losses do not depend on it; False
            (default) returns a new tensor, True reproduces the mutation.
    Returns:
        the masked tensor (``x`` itself when ``inplace``).
    """
    if variant not in MAX_ONEHOT_VARIANTS:
        raise ValueError(f'max_onehot variant must be one of {MAX_ONEHOT_VARIANTS}, '
                         f'got {variant!r}')
    if variant == 'seam':
        fg = x[:, 1:]
        drop = fg != fg.max(1, keepdim=True)[0]
        if inplace:
            fg[drop] = 0
            return x
        return torch.cat([x[:, :1], fg.masked_fill(drop, 0)], 1)
    drop = x != x.max(1, keepdim=True)[0]
    if inplace:
        x[drop] = 0
        return x
    return x.masked_fill(drop, 0)


def ohem_mean(t: Tensor, ratio: float = OHEM_RATIO) -> Tensor:
    """Mean of the top ``int(K * h * w * ratio)`` values of each sample (SEAM/CPN OHEM).

    Args:
        t: (N, K, h, w) per-element losses (K = 21 in the official code).
    Returns:
        scalar: the mean over the N x k selected values.
    """
    n, k_ch, h, w = t.shape
    k = int(k_ch * h * w * ratio)  # the official (int)(21*hs*ws*0.2), same order of operations
    return torch.topk(t.reshape(n, -1), k=k, dim=-1)[0].mean()


def adaptive_min_pooling_loss(x: Tensor) -> Tensor:
    """SEAM/CPN ``adaptive_min_pooling_loss``: the k = h*w // 4 smallest per-pixel maxima.

    Args:
        x: (N, C, h, w), e.g. ``(cam_rv * label)[:, 1:]``.
    Returns:
        scalar ``sum(relu(bottom_k(max_c x))) / (k * N)``.
    """
    n, _, h, w = x.shape
    k = h * w // 4
    y = torch.topk(x.max(1)[0].reshape(n, -1), k=k, dim=-1, largest=False)[0]
    return F.relu(y).sum() / (k * n)


def multilabel_logits_loss(cam: Tensor, img_labels: Tensor) -> Tensor:
    """``multilabel_soft_margin_loss(GAP(cam)[:, 1:], y)``: the GAP of the full-size CAM.

    Args:
        cam: (N, 1 + C, H, W) raw CAM (the official pools the map AFTER its upsampling
            to the input size); img_labels: (N, C).
    """
    return F.multilabel_soft_margin_loss(cam.mean((2, 3))[:, 1:], img_labels)


def seam_er_loss(cam1_small: Tensor, cam2: Tensor) -> Tensor:
    """L_ER = mean |ĉ1 - ĉ2| over the fg channels.

    Args:
        cam1_small: (N, 1 + C, h, w) ``resize(max_norm(cam1)) * label`` (view 1 brought
            to the size of view 2); cam2: ``max_norm(cam2) * label``, same shape.
    """
    return (cam1_small[:, 1:] - cam2[:, 1:]).abs().mean()


def seam_ecr_loss(cam1_small: Tensor,
                  cam2: Tensor,
                  cam_rv1_small: Tensor,
                  cam_rv2: Tensor,
                  ratio: float = OHEM_RATIO) -> Tensor:
    """L_ECR = OHEM|max_onehot(ĉ2) - ĉrv1| + OHEM|max_onehot(ĉ1) - ĉrv2|.

    Args:
        cam1_small, cam2: the L_ER maps with channel 0 already set to ``1 - max_fg``
            (:func:`bg_from_fg`); the targets are detached.
        cam_rv1_small, cam_rv2: ``max_norm(cam_rv) * label`` of the two views (channel 0
            is PCM's own background, not replaced), same size.
    """
    e1 = (max_onehot(cam2.detach(), 'seam') - cam_rv1_small).abs()
    e2 = (max_onehot(cam1_small.detach(), 'seam') - cam_rv2).abs()
    return ohem_mean(e1, ratio) + ohem_mean(e2, ratio)


def seam_losses(cam1: Tensor,
                cam_rv1: Tensor,
                cam2: Tensor,
                cam_rv2: Tensor,
                img_labels: Tensor,
                ohem_ratio: float = OHEM_RATIO) -> Dict[str, Tensor]:
    """SEAM's whole training loss from the two views' network outputs.

    Args:
        cam1, cam_rv1: (N, 1 + C, H, W) raw CAM and PCM CAM of the crop (at its size).
        cam2, cam_rv2: (N, 1 + C, h, w) the same of the rescaled crop (x0.3).
        img_labels: (N, C) multi-hot.
    Returns:
        ``loss_cls`` = mean of the two views' multi-label losses, ``loss_min`` = mean of
        their :func:`adaptive_min_pooling_loss` on ``(cam_rv * label)[:, 1:]`` (the
        official folds both into its ``loss_cls``), ``loss_er``, ``loss_ecr``; the official
        total is their sum. View 1's maps are resized to view 2's size with bilinear
        ``align_corners=True`` (for that mode a size and the official ``scale_factor=0.3``
        sample identically).
    """
    label = labels_with_bg(img_labels).to(cam1.dtype)
    size = cam2.shape[-2:]

    def small(x: Tensor) -> Tensor:
        return F.interpolate(x, size=size, mode='bilinear', align_corners=True)

    loss_cls = (multilabel_logits_loss(cam1, img_labels) +
                multilabel_logits_loss(cam2, img_labels)) / 2
    loss_min = (adaptive_min_pooling_loss((cam_rv1 * label)[:, 1:]) + adaptive_min_pooling_loss(
        (cam_rv2 * label)[:, 1:])) / 2
    c1 = small(max_norm(cam1)) * label
    rv1 = small(max_norm(cam_rv1)) * label
    c2 = max_norm(cam2) * label
    rv2 = max_norm(cam_rv2) * label
    loss_er = seam_er_loss(c1, c2)
    loss_ecr = seam_ecr_loss(bg_from_fg(c1), bg_from_fg(c2), rv1, rv2, ohem_ratio)
    return dict(loss_cls=loss_cls, loss_min=loss_min, loss_er=loss_er, loss_ecr=loss_ecr)


def cpn_tcp_loss(cam: Tensor, cam1: Tensor, cam2: Tensor, cam_rv: Tensor, cam_rv1: Tensor,
                 cam_rv2: Tensor) -> Tensor:
    """L_tcp (CPN's complementary-patch consistency) over the fg channels.

    ``mean|(ĉ1 + ĉ2).detach() - ĉ| + mean|ĉrv - ĉrv1 - ĉrv2|``, where ĉ = max_norm(.) * label
    and the pair maps are already scaled by their visible fractions (c, u).

    Shapes: all (N, 1 + C, H, W).
    """
    first = ((cam2[:, 1:].detach() + cam1[:, 1:].detach()) - cam[:, 1:]).abs().mean()
    second = (cam_rv[:, 1:] - cam_rv1[:, 1:] - cam_rv2[:, 1:]).abs().mean()
    return first + second


def cpn_cpcr_loss(cam: Tensor,
                  cam1: Tensor,
                  cam2: Tensor,
                  cam_rv1: Tensor,
                  cam_rv2: Tensor,
                  ratio: float = OHEM_RATIO) -> Tensor:
    """L_cpcr = OHEM|max_onehot(ĉ - ĉ1) - ĉrv2| + OHEM|max_onehot(ĉ - ĉ2) - ĉrv1|.

    Args:
        all (N, 1 + C, H, W) with channel 0 set to ``1 - max_fg`` (:func:`bg_from_fg`),
        the pair maps scaled by c / u; ``max_onehot`` is CPN's (max over all channels)
        on the detached difference.
    """
    t1 = max_onehot(cam.detach() - cam1.detach(), 'cpn')
    t2 = max_onehot(cam.detach() - cam2.detach(), 'cpn')
    return ohem_mean((t1 - cam_rv2).abs(), ratio) + ohem_mean((t2 - cam_rv1).abs(), ratio)


def cpn_losses(cam: Tensor,
               cam_rv: Tensor,
               cam1: Tensor,
               cam_rv1: Tensor,
               cam2: Tensor,
               cam_rv2: Tensor,
               img_labels: Tensor,
               visible_ratio: Tensor,
               hidden_ratio: Optional[Tensor] = None,
               ohem_ratio: float = OHEM_RATIO) -> Dict[str, Tensor]:
    """CPN's whole training loss from the network outputs of the image and its pair.

    Args:
        cam, cam_rv: (N, 1 + C, H, W) raw and refined CAM of the crop.
        cam1, cam_rv1: the same of ``img * sign`` (the visible superpixels).
        cam2, cam_rv2: the same of ``img * (1 - sign)``.
        img_labels: (N, C) multi-hot.
        visible_ratio: (N,) c, the visible pixel fraction of view 1.
        hidden_ratio: (N,) u (default ``1 - c``; the official computes it in float64).
    Returns:
        ``loss_cls`` (mean of the 3 multi-label losses), ``loss_min`` (mean of the 3
        min-pooling losses; the official sums both into ``loss_cls``), ``loss_tcp``,
        ``loss_cpcr``; the official total is their sum.
    """
    label = labels_with_bg(img_labels).to(cam.dtype)
    c = visible_ratio.to(cam.dtype).view(-1, 1, 1, 1)
    u = (1 - visible_ratio if hidden_ratio is None else hidden_ratio).to(cam.dtype).view(
        -1, 1, 1, 1)
    pairs = ((cam, cam_rv), (cam1, cam_rv1), (cam2, cam_rv2))
    loss_cls = sum(multilabel_logits_loss(x, img_labels) for x, _ in pairs) / 3
    loss_min = sum(adaptive_min_pooling_loss((rv * label)[:, 1:]) for _, rv in pairs) / 3
    n0, nrv0 = max_norm(cam) * label, max_norm(cam_rv) * label
    n1, nrv1 = c * max_norm(cam1) * label, c * max_norm(cam_rv1) * label
    n2, nrv2 = u * max_norm(cam2) * label, u * max_norm(cam_rv2) * label
    loss_tcp = cpn_tcp_loss(n0, n1, n2, nrv0, nrv1, nrv2)
    n0, n1, n2, nrv1, nrv2 = (bg_from_fg(x) for x in (n0, n1, n2, nrv1, nrv2))
    loss_cpcr = cpn_cpcr_loss(n0, n1, n2, nrv1, nrv2, ohem_ratio)
    return dict(loss_cls=loss_cls, loss_min=loss_min, loss_tcp=loss_tcp, loss_cpcr=loss_cpcr)
