"""PPC (Du et al., CVPR'22): pixel-to-prototype contrast as plain tensor functions.

usr922/wseg, master ``contrast_train.py`` (the SEAM baseline; the "Contrastive Learning"
block of the training loop) and branch ``esp`` ``module/train.py::get_contrast_loss`` (the
EPS baseline). Both compute, from each view's PCM-refined CAM ``cam_rv_down`` and projected
feature ``f_proj`` (both resized to 16 x 16):

1. a pseudo label per pixel (:func:`ppc_cam_norm`, :func:`ppc_pseudo_label`);
2. one prototype per class from the top-K pixels of the WHOLE batch
   (:func:`batch_topk_prototypes`), recomputed every step, without gradient;
3. three InfoNCE losses with tau 0.1 (:func:`prototype_nce`, :func:`intra_view_nce`),
   each ``gamma * (view 1 + view 2) / 2`` (:func:`ppc_losses`).

Official names -> functions:

=================================================  ========================================
``cam_rv_down`` relu / min-max / ``[:, 0] = bg``   :func:`ppc_cam_norm`, :func:`ppc_pseudo_label`
``torch.topk(cam.transpose(0, 1)..., k=hw//8)``    :func:`batch_topk_prototypes`
+ the weighted-mean loop, ``F.normalize``
``loss_nce1/2`` (cross-prototype),                 :func:`prototype_nce`
``loss_cross_nce2_1/2`` (cross-pseudo-label)
``loss_intra_nce1/2`` (semi-hard prototype         :func:`semi_hard_pixel_losses`,
mining + hard pixel sampling)                      :func:`hard_pixel_indices`,
                                                   :func:`intra_view_nce`
the whole block                                    :func:`ppc_losses`
=================================================  ========================================

Conventions: ``C`` = number of CAM channels (21 for VOC: background + 20), ``N`` images,
``h x w`` the contrast grid, ``M = N * h * w`` pixels flattened in (n, y, x) order (the
official ``permute(0, 2, 3, 1).reshape(-1, D)``), ``D`` the projection width (128).

The SEAM variant (default) has the background in channel 0, ``bg_thr = 0.20``,
``K = hw // 8`` and ``gamma = 0.1``; the EPS variant is ``bg_channel='last'``,
``bg_thr=0.10``, ``topk_div=16``, ``gamma=0.10``.
"""
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..prototypes.functional import cosine_maps, masked_average
from ..utils.cam import BG_POSITIONS, labels_with_bg, normalize_cams

BG_CHANNELS = BG_POSITIONS
#: ``F.normalize``'s default eps, which the official prototypes and features use
L2_EPS = 1e-12

#: ``sampler(n, k) -> (k,) long``: the random subset of hard pixel sampling (the official
#: ``random.sample(range(n), k)``); inject one to make the loss deterministic.
Sampler = Callable[[int, int], Tensor]


def bg_index(num_channels: int, bg_channel: str = 'first') -> int:
    """Index of the background channel among ``num_channels``."""
    if bg_channel not in BG_CHANNELS:
        raise ValueError(f'bg_channel must be one of {BG_CHANNELS}, got {bg_channel!r}')
    return 0 if bg_channel == 'first' else num_channels - 1


@torch.no_grad()
def ppc_cam_norm(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """The official in-loop min-max of ``cam_rv_down`` (detached).

    ``x = relu(cam)``; with per-image per-channel ``mn, mx`` of ``x``: values below
    ``mn + eps`` are set to 0, then ``(x - mn - eps) / (mx - mn + eps)`` WITHOUT a final
    ReLU. This is SEAM's ``max_norm`` (``normalize_cams(.., 'minmax_seam')``) everywhere
    except at the zeroed pixels, which become ``-(mn + eps) / (mx - mn + eps)`` (negative)
    instead of 0. The difference matters for the prototypes: a channel that is 0 on every
    pixel of the batch gets weights -1 (a plain mean of its top-K features) where
    ``max_norm`` would give weights 0 and a 0 / 0 prototype.

    Args:
        cam: (N, C, h, w) PCM-refined CAM on the contrast grid.
    Returns:
        (N, C, h, w) normalised CAM (no background replacement yet).
    """
    x = F.relu(cam.detach())
    flat = x.flatten(2)
    mn = flat.min(-1)[0][..., None, None]
    mx = flat.max(-1)[0][..., None, None]
    low = x < mn + eps
    out = normalize_cams(x, 'minmax_seam', eps)  # exact where x >= mn + eps
    return torch.where(low, (0 - mn - eps) / (mx - mn + eps), out)


@torch.no_grad()
def ppc_pseudo_label(cam: Tensor,
                     img_labels: Tensor,
                     bg_thr: float = 0.20,
                     bg_channel: str = 'first',
                     eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """Normalised CAM with a constant background and the per-pixel pseudo label.

    Args:
        cam: (N, C, h, w) ``cam_rv_down`` on the contrast grid (raw, before the ReLU).
        img_labels: (N, C - 1) multi-hot foreground labels.
        bg_thr: the constant written into the background channel (SEAM 0.20, EPS 0.10).
        bg_channel: ``'first'`` (SEAM) or ``'last'`` (EPS).
    Returns:
        ``norm``: (N, C, h, w) :func:`ppc_cam_norm` with the bg channel = ``bg_thr``
        (NOT masked by the labels: the prototypes read every class, absent ones too);
        ``labels``: (N, h, w) long ``argmax_c softmax(norm * [1, y])`` (channel indices:
        absent classes score 0 there and never beat the background's ``bg_thr > 0``).
    """
    norm = ppc_cam_norm(cam, eps)
    b = bg_index(norm.shape[1], bg_channel)
    norm[:, b] = bg_thr
    label = labels_with_bg(img_labels, bg_channel).to(norm.dtype)
    labels = F.softmax(norm * label, dim=1).argmax(1)
    return norm, labels


@torch.no_grad()
def batch_topk_prototypes(feats: Tensor,
                          norm_cam: Tensor,
                          topk: int,
                          topk_indices: Optional[Tensor] = None) -> Tensor:
    """One L2-normalised prototype per channel from its top-K pixels over the batch.

    ``P_c = normalize(sum_k v_k f_k / sum_k v_k)`` over the K largest values ``v`` of
    channel c among ALL ``N * h * w`` pixels of the batch (the official
    ``topk(cam.transpose(0, 1).reshape(C, -1), k)``), features detached.

    Quirk (kept): the background channel is the constant ``bg_thr`` everywhere, so its
    top-K is a set of TIED pixels whose choice is up to ``torch.topk`` (CPU and CUDA
    differ): the bg prototype is the mean of arbitrary pixels. Pass ``topk_indices`` to
    fix the choice (an equivalence check injects the official run's indices).

    Args:
        feats: (N, D, h, w) projected features (detached here).
        norm_cam: (N, C, h, w) :func:`ppc_pseudo_label`'s ``norm``.
        topk: K (SEAM ``h * w // 8``, EPS ``h * w // 16``: per-image pixel count, while
            the pixels are drawn from the whole batch).
        topk_indices: optional (C, K) indices into the flattened ``N * h * w`` pixels.
    Returns:
        (C, D) prototypes, unit norm.
    """
    n, d, h, w = feats.shape
    c = norm_cam.shape[1]
    scores = norm_cam.detach().transpose(0, 1).reshape(c, n * h * w)
    if topk_indices is None:
        topk_indices = torch.topk(scores, k=topk, dim=-1)[1]
    elif topk_indices.shape != (c, topk):
        raise ValueError(f'topk_indices must be ({c}, {topk}), got {tuple(topk_indices.shape)}')
    values = scores.gather(1, topk_indices)
    # the top-K values as a sparse weight map over the batch's pixels; the official
    # divides by the plain sum of the values (eps 0)
    weights = scores.new_zeros(c, n * h * w).scatter_(1, topk_indices, values)
    flat = feats.detach().permute(1, 0, 2, 3).reshape(1, d, 1, n * h * w)
    protos = masked_average(flat, weights.reshape(1, c, 1, n * h * w), eps=0.0)[0]
    return F.normalize(protos, dim=-1, eps=L2_EPS)


def pixel_scores(feats: Tensor, protos: Tensor) -> Tensor:
    """``z_i . P_c`` with ``z = normalize(f)``: (N, D, h, w), (C, D) -> (M, C)."""
    sims = cosine_maps(feats, protos, eps=L2_EPS)  # (N, C, h, w)
    return sims.permute(0, 2, 3, 1).reshape(-1, protos.shape[0])


def prototype_nce(feats: Tensor, protos: Tensor, labels: Tensor, tau: float = 0.1) -> Tensor:
    """``mean_i -log[exp(z_i . P_{y_i} / tau) / sum_c exp(z_i . P_c / tau)]``.

    The cross-prototype loss is ``prototype_nce(f1, P2, y1)`` (and f2, P1, y2); the
    cross-pseudo-label loss ``prototype_nce(f1, P1, y2)`` (and f2, P2, y1).

    Args:
        feats: (N, D, h, w) projected features (with gradient; L2-normalised here).
        protos: (C, D) unit prototypes; labels: (N, h, w) long in [0, C).
    Returns:
        scalar.
    """
    logits = pixel_scores(feats, protos) / tau
    return F.cross_entropy(logits, labels.reshape(-1))


def semi_hard_pixel_losses(feats: Tensor,
                           protos: Tensor,
                           labels: Tensor,
                           tau: float = 0.1,
                           mining_topk: int = 13,
                           mining_skip: int = 3) -> Tuple[Tensor, Tensor]:
    """Per-pixel intra-view loss with semi-hard prototype mining.

    For pixel i with positive ``P_{y_i}`` the denominator set is the positive plus the
    prototypes ranked ``mining_skip + 1 .. mining_topk`` (4th to 13th) by ``z_i . P_c``
    (``topk(k=13)[:, 3:]``: the 3 most similar are left out). The positive is NOT
    excluded from the ranking, so it can appear twice (official).

    Args:
        feats: (N, D, h, w); protos: (C, D) unit; labels: (N, h, w).
    Returns:
        ``loss``: (M,) ``-log[exp(z.pos / tau) / sum_{p in set} exp(z.p / tau)]``;
        ``sim``: (M,) ``(z . pos + 1) / 2``, the hardness used for pixel sampling.
    """
    scores = pixel_scores(feats, protos)  # (M, C)
    flat = labels.reshape(-1, 1)
    pos = scores.gather(1, flat)  # (M, 1)
    with torch.no_grad():
        idx = torch.topk(scores, k=mining_topk, dim=-1)[1][:, mining_skip:]
    denom = torch.cat([pos, scores.gather(1, idx)], 1) / tau
    loss = torch.logsumexp(denom, 1) - pos[:, 0] / tau
    return loss, (pos[:, 0] + 1) / 2


def hard_pixel_indices(sim: Tensor, hard_ratio: float = 0.6) -> Tensor:
    """The "hard" subset of one class's pixels: the last ``n // 2`` of its ``int(0.6 n)``
    least similar ones (the lowest 60 % without the lowest ~10 %).

    Args:
        sim: (n,) ``(z . pos + 1) / 2`` of the class's pixels, n >= 2.
    Returns:
        (n // 2,) long indices into ``sim``, in increasing-similarity order.
    """
    n = sim.shape[0]
    k = int(n * hard_ratio)
    low = torch.topk(sim.detach(), k=k, largest=False)[1]
    return low[k - n // 2:]


def intra_view_nce(feats: Tensor,
                   protos: Tensor,
                   labels: Tensor,
                   tau: float = 0.1,
                   mining_topk: int = 13,
                   mining_skip: int = 3,
                   hard_ratio: float = 0.6,
                   sampler: Optional[Sampler] = None,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Intra-view loss: semi-hard mining + hard pixel sampling, averaged over classes.

    For every channel c = 0 .. C-1 present in ``labels`` (in this order), with n pixels:
    it counts in C_present; if n >= 2 its loss is the mean of the per-pixel losses
    (:func:`semi_hard_pixel_losses`) over the concatenation of a random ``n // 2``
    subset (without replacement) and :func:`hard_pixel_indices`. The result is the sum
    divided by C_present, which INCLUDES the classes skipped for n < 2 (official).

    Args:
        feats, protos, labels: as :func:`semi_hard_pixel_losses`.
        sampler: ``sampler(n, k)`` -> (k,) long random subset; default
            ``torch.randperm(n, generator=generator)[:k]`` (the official draws
            ``random.sample(range(n), k)``; inject a sampler to reproduce a run).
    Returns:
        scalar.
    """
    loss, sim = semi_hard_pixel_losses(feats, protos, labels, tau, mining_topk, mining_skip)
    flat = labels.reshape(-1)
    total = loss.new_zeros(())
    present = torch.unique(flat).tolist()
    for c in range(protos.shape[0]):
        if c not in present:
            continue
        mask = flat == c
        loss_c, sim_c = loss[mask], sim[mask]
        n = loss_c.shape[0]
        if n < 2:
            continue
        if sampler is not None:
            rand = torch.as_tensor(sampler(n, n // 2), dtype=torch.long, device=loss.device)
        else:
            rand = torch.randperm(
                n, generator=generator, device='cpu' if generator is None else generator.device)
            rand = rand[:n // 2].to(loss.device)
        hard = hard_pixel_indices(sim_c, hard_ratio)
        total = total + torch.cat([loss_c[rand], loss_c[hard]]).mean()
    return total / len(present)


def ppc_losses(cam1: Tensor,
               proj1: Tensor,
               cam2: Tensor,
               proj2: Tensor,
               img_labels: Tensor,
               size: Optional[Tuple[int, int]] = (16, 16),
               bg_thr: float = 0.20,
               bg_channel: str = 'first',
               topk_div: int = 8,
               tau: float = 0.1,
               gamma: float = 0.1,
               mining_topk: int = 13,
               mining_skip: int = 3,
               hard_ratio: float = 0.6,
               topk_indices: Optional[Tuple[Tensor, Tensor]] = None,
               sampler: Optional[Sampler] = None,
               generator: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
    """The three PPC losses of one step from the two views.

    Args:
        cam1, cam2: (N, C, h_v, w_v) PCM-refined CAMs of view 1 / 2 on their feature
            grids (``cam_rv_down``, raw).
        proj1, proj2: (N, D, h_v, w_v) ``f_proj`` of the two views (with gradient).
        img_labels: (N, C - 1) multi-hot.
        size: the contrast grid: every map is resized to it (bilinear,
            ``align_corners=True``; the official ``128 // 8`` = 16, view 2's own grid, so
            the call is a no-op there). None keeps view 2's grid and resizes view 1 to it.
        bg_thr, bg_channel: see :func:`ppc_pseudo_label`.
        topk_div: K = h * w // topk_div (SEAM 8, EPS 16).
        tau: the temperature (0.1). gamma: each loss's weight (SEAM 0.1, EPS 0.10).
        mining_topk, mining_skip, hard_ratio: intra-view mining (13, 3, 0.6).
        topk_indices: optional (view 1, view 2) (C, K) prototype pixel indices.
        sampler, generator: the random pixel subset of the intra-view loss; view 1's
            classes are drawn before view 2's, as in the official loop.
    Returns:
        ``loss_cross`` (cross-prototype), ``loss_cross_pl`` (cross-pseudo-label),
        ``loss_intra`` (intra-view), each ``gamma * (view 1 + view 2) / 2``.
    """
    if size is None:
        size = tuple(cam2.shape[-2:])

    def grid(x: Tensor) -> Tensor:
        return F.interpolate(x, size=size, mode='bilinear', align_corners=True)

    cam1, proj1, cam2, proj2 = grid(cam1), grid(proj1), grid(cam2), grid(proj2)
    h, w = size
    k = h * w // topk_div
    idx1, idx2 = topk_indices if topk_indices is not None else (None, None)
    norm1, y1 = ppc_pseudo_label(cam1, img_labels, bg_thr, bg_channel)
    norm2, y2 = ppc_pseudo_label(cam2, img_labels, bg_thr, bg_channel)
    p1 = batch_topk_prototypes(proj1, norm1, k, idx1)
    p2 = batch_topk_prototypes(proj2, norm2, k, idx2)
    cross = (prototype_nce(proj1, p2, y1, tau) + prototype_nce(proj2, p1, y2, tau)) / 2
    cross_pl = (prototype_nce(proj1, p1, y2, tau) + prototype_nce(proj2, p2, y1, tau)) / 2
    mining = dict(
        tau=tau,
        mining_topk=mining_topk,
        mining_skip=mining_skip,
        hard_ratio=hard_ratio,
        sampler=sampler,
        generator=generator)
    intra = (intra_view_nce(proj1, p1, y1, **mining) + intra_view_nce(proj2, p2, y2, **mining)) / 2
    return dict(loss_cross=gamma * cross, loss_cross_pl=gamma * cross_pl, loss_intra=gamma * intra)
