"""POT: prototypical optimal transport (Wang et al., CVPR'25), as released.

Official code: jianwang91/POT ``POT/network/resnet50_POT.py`` (``Net.get_seed_aff_x4``,
``Net.Sinkhorn``, ``Net.forward``, ``CAM.forward``). The authors say the release is NOT
the CVPR version (issue #2). Every step is a plain tensor function:

1. hierarchical feature as SIPE's (:func:`~.sipe_head.hierarchical_feature`), but each side
   conv also reads the input image, bilinearly resized (``align_corners=True``) to its stage
   (``side_l = conv([x_l, img])``), and the stages are NOT detached;
2. :func:`pot_seeds`: one-hot argmax of SIPE's ``norm_cam`` x the valid mask;
3. :func:`kmeans_centres`: per image and class (bg included) with >= 2 seed pixels, cosine
   k-means with 2 clusters on the seed pixels' features (scikit-learn KMeans on
   L2-normalised rows, seeded; the official ``kmeans_pytorch`` is unseeded); the centres are
   the members' raw means, as ``kmeans_pytorch`` returns them (differentiable);
4. :func:`pot_class_maps`: ``mean_k cos(f, centre_k)`` x valid, max-normalised; with
   ``plan`` (the paper's intent), the per-pixel mean is replaced by the transport weights
   ``M * T[c, i, k]`` of :func:`transport_plans` (a uniform plan gives the released mean);
5. :func:`transport_plans`: Sinkhorn OT (POT library ``ot.sinkhorn``) with cost
   ``1 - cos`` between L2-normalised pixels and centres, reg 0.1, uniform marginals
   ``1/M``, ``1/N``; the released code computes it and never uses it, and builds its
   per-class similarity with ``sim.view(M, N, n_cls)``, which reads a class-major
   (M, n_cls * N) matrix as cluster-major: ``layout='released'`` reproduces that;
6. :func:`pot_fuse`: the CLIP-ES CAM fusion (train and test variants).
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from ..prototypes.functional import cosine_maps
from ..prototypes.lpcam import cluster_means, kmeans_cosine
from ..utils.cam import add_background, labels_with_bg, normalize_cams
from ..utils.cam_files import load_batch_cams
from .sipe_head import SIPEHead, sipe_norm_cam

PLAN_LAYOUTS = ('class_major', 'released')


def max_norm(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``x / (adaptive_max_pool(x) + eps)`` per map: the project's ``normalize_cams``."""
    return normalize_cams(x, 'max', eps)


def pot_seeds(norm_cam: Tensor, valid: Tensor) -> Tensor:
    """One-hot argmax of ``norm_cam`` (B, K, h, w) times ``valid`` (B, K, h, w) / (B, K, 1, 1)."""
    k = norm_cam.shape[1]
    return F.one_hot(norm_cam.argmax(1), k).permute(0, 3, 1, 2).to(norm_cam.dtype) * valid


def kmeans_centres(feature: Tensor,
                   seeds: Tensor,
                   num_clusters: int = 2,
                   seed: int = 0,
                   init: str = 'random',
                   n_init: int = 1) -> Tuple[Tensor, Tensor]:
    """Per image and class, ``num_clusters`` cosine k-means centres of the seed pixels.

    Args:
        feature: (B, D, h, w) ``hie_fea``.
        seeds: (B, K, h', w') 0/1 seeds (nearest-resized to the feature grid).
        num_clusters: 2 (the official).
        seed: ``random_state`` base; image b, class c uses ``seed + b * K + c`` (the
            official ``kmeans_pytorch`` picks random initial points without a seed).
        init, n_init: scikit-learn options (``'random'``, 1: one run from data points, as
            the official).
    Returns:
        centres (B, K, N, D) (zeros for skipped classes) and ``present`` (B, K) bool: the
        class had at least ``num_clusters`` seed pixels (the official skips the others,
        leaving their map 0).
    """
    b, d, h, w = feature.shape
    if seeds.shape[-2:] != feature.shape[-2:]:
        seeds = F.interpolate(seeds, size=(h, w), mode='nearest')
    k = seeds.shape[1]
    present = torch.zeros(b, k, dtype=torch.bool, device=feature.device)
    flat = feature.flatten(2).transpose(1, 2)  # (B, hw, D)
    zeros = feature.new_zeros(num_clusters, d)
    # many tiny fits (<= h*w points, 2 clusters): scikit-learn's per-fit thread-pool setup
    # costs 10-40x the fit itself, so the whole loop runs with one BLAS / OpenMP thread
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        rows = _fit_all(flat, seeds, present, zeros, num_clusters, seed, init, n_init)
    return torch.stack(rows).view(b, k, num_clusters, d), present


def _fit_all(flat: Tensor, seeds: Tensor, present: Tensor, zeros: Tensor, num_clusters: int,
             seed: int, init: str, n_init: int) -> List[Tensor]:
    """The per (image, class) loop of :func:`kmeans_centres` (fills ``present``)."""
    b, k = seeds.shape[:2]
    rows: List[Tensor] = []
    for i in range(b):
        for c in range(k):
            idx = seeds[i, c].flatten() > 0
            if int(idx.sum()) < num_clusters:
                rows.append(zeros)
                continue
            pts = flat[i][idx]
            labels, _ = kmeans_cosine(
                pts.detach(), num_clusters, seed=seed + i * k + c, init=init, n_init=n_init)
            # raw member means WITH gradient (kmeans_pytorch's centres are built from X
            # inside autograd, so the official gradient flows through them as well)
            rows.append(cluster_means(pts, labels.to(pts.device), num_clusters).to(flat.dtype))
            present[i, c] = True
    return rows


def cluster_cosines(feature: Tensor, centres: Tensor) -> Tensor:
    """(B, K, N, h, w) cosine of every pixel with every centre (``F.cosine_similarity``)."""
    b, k, n, d = centres.shape
    cos = cosine_maps(feature, centres.reshape(b, k * n, d))
    return cos.view(b, k, n, *feature.shape[-2:])


def transport_plans(feature: Tensor,
                    centres: Tensor,
                    reg: float = 0.1,
                    layout: str = 'class_major',
                    num_iter: int = 100,
                    stop_thr: float = 1e-9,
                    eps: float = 1e-5,
                    present: Optional[Tensor] = None) -> Tensor:
    """Sinkhorn plans between the pixels of each image and each class's centres.

    Args:
        feature: (B, D, h, w).
        centres: (B, K, N, D).
        reg: entropic regularisation (0.1): ``K = exp(-(1 - sim) / reg)``.
        layout: ``'class_major'``: class c's cost uses its own N centres (the intent);
            ``'released'``: the official ``sim.view(M, N, n_cls).permute(2, 0, 1)`` on the
            class-major (M, n_cls * N) similarity, so "class" c gets the columns
            ``n * n_cls + c`` (mixing classes).
        num_iter: Sinkhorn iterations at most (100, as the official).
        stop_thr: ``ot.sinkhorn``'s marginal-error threshold (the official stops when the
            mean change of its row scaling is < 1e-2; the two criteria differ).
        eps: of the L2 normalisation (``x / (||x|| + eps)``, the official).
        present: optional (B, K) bool; plans of other classes are left 0 (their maps are
            0 anyway).
    Returns:
        (B, K, M, N) plans, M = h * w; each row sums to 1 / M, each column to 1 / N.
    """
    import ot
    if layout not in PLAN_LAYOUTS:
        raise ValueError(f'layout must be one of {PLAN_LAYOUTS}, got {layout!r}')
    b, k, n, d = centres.shape
    m = feature.shape[2] * feature.shape[3]
    out = torch.zeros(b, k, m, n, dtype=torch.float64)
    a = np.full(m, 1.0 / m)
    bb = np.full(n, 1.0 / n)
    with torch.no_grad():
        for i in range(b):
            f = feature[i].flatten(1).t().double()
            f = f / (f.norm(dim=1, keepdim=True) + eps)
            c = centres[i].reshape(k * n, d).double()
            c = c / (c.norm(dim=1, keepdim=True) + eps)
            sim = f @ c.t()  # (M, K * N), class-major columns
            if layout == 'class_major':
                sim = sim.view(m, k, n).permute(1, 0, 2)
            else:
                sim = sim.reshape(m, n, k).permute(2, 0, 1)
            for j in range(k):
                if present is not None and not bool(present[i, j]):
                    continue
                cost = (1.0 - sim[j]).cpu().numpy()
                plan = ot.sinkhorn(a, bb, cost, reg, numItermax=num_iter, stopThr=stop_thr)
                out[i, j] = torch.from_numpy(np.asarray(plan))
    return out.to(feature)


def pot_class_maps(feature: Tensor,
                   centres: Tensor,
                   present: Tensor,
                   valid: Tensor,
                   plans: Optional[Tensor] = None,
                   eps: float = 1e-5) -> Tensor:
    """``get_seed_aff_x4``'s class maps (B, K, h, w).

    ``map_c = mean_n cos(f, centre_cn)`` (the release), or with ``plans`` (B, K, M, N)
    ``map_c(i) = sum_n M * T[c, i, n] * cos(f_i, centre_cn)`` (each pixel's plan row
    rescaled to sum to 1: a uniform plan is the mean); 0 for skipped classes; times
    ``valid``; divided by ``max_hw + eps`` (negative cosines stay negative, as released).
    """
    cos = cluster_cosines(feature, centres)  # (B, K, N, h, w)
    if plans is None:
        maps = cos.mean(2)
    else:
        b, k, n, h, w = cos.shape
        weights = plans.to(cos) * (h * w)  # (B, K, M, N)
        weights = weights.permute(0, 1, 3, 2).reshape(b, k, n, h, w)
        maps = (weights * cos).sum(2)
    maps = maps * present[..., None, None].to(maps.dtype) * valid
    return max_norm(maps, eps)


def pot_fuse(cam_class: Tensor,
             clip: Tensor,
             valid: Optional[Tensor] = None,
             add_weight: float = 0.2,
             cls_bg_weight: float = 0.5,
             clip_bg_weight: Optional[float] = 0.15,
             sharpen: Tuple[float, float] = (1.2, 0.2),
             row_mean_ratio: Optional[float] = 0.5,
             eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """The CLIP-ES fusion of ``Net.forward`` (training) / ``CAM.forward`` (inference).

    Args:
        cam_class: (B, K, h, w) class maps of :func:`pot_class_maps` (channel 0 = bg,
            discarded: a new bg is computed).
        clip: (B, K, h, w) CLIP-ES map on the same grid with its bg channel (1 - max fg,
            computed before any resize, as the official).
        valid: (B, K, h, w) mask of the CLIP map (training) or None (inference).
        add_weight: 0.2 in training, 0.3 at inference.
        cls_bg_weight: ``cam_class_fg = relu(cam_class_fg - 0.5 * clip_bg)``, bg = 1 - max.
        clip_bg_weight: training only: ``clip_fg = relu(clip_fg - 0.15 * clip_bg)``, then a
            new bg = 1 - max; None (inference) keeps ``clip`` as given.
        sharpen: ``relu(1.2 * clip - 0.2 * sum_k clip)`` over all K channels, then / max.
        row_mean_ratio: training only: zero the values below 0.5 x their row mean (the mean
            over the width, ``mean(dim=3)``); None skips it.
    Returns:
        ``(cam_class, cam_add)``, both (B, K, h, w): the class map with the CLIP-suppressed
        fg and a new bg; the CLIP map + ``add_weight`` x cam_class where their argmaxes
        agree, values above 1 set to 1.
    """
    clip_bg = clip[:, :1]
    cls_fg = F.relu(cam_class[:, 1:] - cls_bg_weight * clip_bg)
    cam_class = add_background(cls_fg, power=1.0)
    if clip_bg_weight is not None:
        fg = F.relu(clip[:, 1:] - clip_bg_weight * clip_bg)
        clip = add_background(fg, power=1.0)
    if valid is not None:
        clip = clip * valid
    clip = F.relu(sharpen[0] * clip - sharpen[1] * clip.sum(1, keepdim=True))
    clip = max_norm(clip, eps)
    if row_mean_ratio is not None:
        clip = clip.masked_fill(clip < row_mean_ratio * clip.mean(3, keepdim=True), 0)
    match = clip.argmax(1, keepdim=True) == cam_class.argmax(1, keepdim=True)
    added = torch.where(match, clip + add_weight * cam_class, clip)
    # the official ``result[result > 1] = 1``: constant 1 there (no gradient)
    added = torch.where(added > 1, torch.ones_like(added), added)
    return cam_class, added


def pot_consistency_loss(cam_class: Tensor,
                         cam_add: Tensor,
                         valid: Tensor,
                         eps: float = 1e-5) -> Tensor:
    """``mean |maxnorm(cam_class * valid) - maxnorm(cam_add * valid)|`` (the x10 is the
    term's weight)."""
    return torch.mean(torch.abs(max_norm(cam_class * valid, eps) - max_norm(cam_add * valid, eps)))


def pot_merge_scales(per_scale: Sequence[Tensor],
                     scales: Sequence[float],
                     bg_pad: float = 0.4,
                     eps: float = 1e-5) -> Tensor:
    """``make_cam.py`` + ``eval_cam.py``: the evaluated map from per-scale outputs.

    Args:
        per_scale: (1, 2K, H, W) per scale, ``[cam_class, cam_add]`` resized to the image.
        scales: their scales; ``IS_CAM`` is ``cam_add`` of scale 1.0 only, max-normalised;
            ``IS_CAM1`` is ``cam_class`` summed over all scales, max-normalised, then
            ``[bg + 0.4, 2 * fg]`` (``IS_CAM1 + pad(IS_CAM1[1:], bg=0.4)``).
        bg_pad: 0.4.
    Returns:
        (1, K, H, W) ``(IS_CAM + IS_CAM1) / 3``: eval_cam.py's argmax input; the division
        (by its upper bound) only brings it into [0, 1] for the refiners, argmax unchanged.
    """
    scales = list(scales)
    if 1.0 not in scales:
        raise ValueError('POT inference needs scale 1.0 (IS_CAM uses it alone)')
    k = per_scale[0].shape[1] // 2
    is_cam = max_norm(per_scale[scales.index(1.0)][:, k:], eps)
    is_cam1 = max_norm(torch.stack([p[:, :k] for p in per_scale]).sum(0), eps)
    pad = torch.cat([torch.full_like(is_cam1[:, :1], bg_pad), is_cam1[:, 1:]], 1)
    return (is_cam + is_cam1 + pad) / 3.0


@MODELS.register_module()
class POTHead(SIPEHead):
    """POT's classifier, side convs (with RGB) and prototype/OT/CLIP steps.

    Reads the backbone outputs followed by the input image (``AppendInput``). The
    classifier reads ``in_index`` (x4); the sides read ``side_indices`` each concatenated
    with the image resized to it (``align_corners=True``); nothing is detached. The unused
    official ``f9`` conv is not built.

    Args:
        side_in_channels: stage channels WITHOUT the 3 image channels (added here).
        img_index: position of the image in the backbone outputs (-1).
        num_clusters, kmeans_seed, kmeans_init, kmeans_n_init: :func:`kmeans_centres`.
        use_plan: weight the cluster similarities with the Sinkhorn plan (the paper's
            intent, default) or take their mean (the release: the plan is computed but
            unused; with ``use_plan=False`` it is not computed at all).
        plan_layout: :func:`transport_plans` ``layout``.
        ot_reg, ot_iters, ot_stop: Sinkhorn settings (0.1, 100).
        add_weight_train / add_weight_test: 0.2 / 0.3.
        clip_cam_dir: folder of the CLIP-ES CAM files (``cams/<key>.npz``).
        bg_pad: of :func:`pot_merge_scales`.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 side_in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 side_channels: Sequence[int] = (128, 128, 256, 256),
                 side_indices: Optional[Sequence[int]] = None,
                 img_index: int = -1,
                 ref_side: int = 2,
                 num_clusters: int = 2,
                 kmeans_seed: int = 0,
                 kmeans_init: str = 'random',
                 kmeans_n_init: int = 1,
                 use_plan: bool = True,
                 plan_layout: str = 'class_major',
                 ot_reg: float = 0.1,
                 ot_iters: int = 100,
                 ot_stop: float = 1e-9,
                 add_weight_train: float = 0.2,
                 add_weight_test: float = 0.3,
                 clip_cam_dir: Optional[str] = None,
                 bg_pad: float = 0.4,
                 in_index: int = 3,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            side_in_channels=tuple(c + 3 for c in side_in_channels),
            side_channels=side_channels,
            side_indices=side_indices,
            ref_side=ref_side,
            detach_sides=False,
            in_index=in_index,
            **kwargs)
        if plan_layout not in PLAN_LAYOUTS:
            raise ValueError(f'plan_layout must be one of {PLAN_LAYOUTS}, got {plan_layout!r}')
        self.img_index = img_index
        self.num_clusters = num_clusters
        self.kmeans_seed = kmeans_seed
        self.kmeans_init = kmeans_init
        self.kmeans_n_init = kmeans_n_init
        self.use_plan = use_plan
        self.plan_layout = plan_layout
        self.ot_reg, self.ot_iters, self.ot_stop = ot_reg, ot_iters, ot_stop
        self.add_weight_train = add_weight_train
        self.add_weight_test = add_weight_test
        self.clip_cam_dir = clip_cam_dir
        self.bg_pad = bg_pad

    def side_inputs(self, feats: Sequence[Tensor]) -> list:
        img = feats[self.img_index]
        outs = []
        for i in self.side_indices:
            x = feats[i]
            rgb = F.interpolate(img, size=x.shape[-2:], mode='bilinear', align_corners=True)
            outs.append(torch.cat([x, rgb], 1))
        return outs

    def class_maps(self, norm_cam: Tensor, valid: Tensor, hie: Tensor) -> Tensor:
        """``get_seed_aff_x4``: seeds -> k-means centres -> (plan-weighted) cosine maps.

        The bg class is not clustered: the official clusters it too, but :func:`pot_fuse`
        discards channel 0 of the class maps (a new bg is 1 - max fg) and every step is per
        channel, so its map never reaches an output (channel 0 is returned as 0 here).
        """
        seeds = pot_seeds(norm_cam.detach(), valid)
        seeds[:, 0] = 0
        centres, present = kmeans_centres(hie, seeds, self.num_clusters, self.kmeans_seed,
                                          self.kmeans_init, self.kmeans_n_init)
        plans = None
        if self.use_plan:
            plans = transport_plans(
                hie.detach(),
                centres.detach(),
                self.ot_reg,
                self.plan_layout,
                self.ot_iters,
                self.ot_stop,
                present=present)
        return pot_class_maps(hie, centres, present, valid, plans)

    def clip_cams(self, samples, size: Tuple[int, int], align_corners: bool) -> Tensor:
        if not self.clip_cam_dir:
            raise KeyError('POTHead needs clip_cam_dir: the folder of CLIP-ES CAM files '
                           '(tools/generate_pseudo_labels.py CLIP-ES config --save-cams)')
        return load_batch_cams(self.clip_cam_dir, samples, self.num_classes, size, align_corners)

    def label_cam_fn(self,
                     branch,
                     img_labels: Tensor,
                     data_samples=None) -> Callable[[Tensor], Tensor]:
        """``x -> [cam_class, cam_add]`` (B, 2K, h, w) at one scale (``CAM.forward``):
        image + flip fused (CAMs, features, RGB) before the seeds; the CLIP-ES map of the
        image resized to ``(H // 16, W // 16)`` then to the grid (``align_corners=True``)."""
        labels = labels_with_bg(img_labels)

        def fn(x: Tensor) -> Tensor:
            n = x.shape[0]
            feats = branch.extract_feat(torch.cat([x, x.flip(-1)], 0))
            _, cam = self.forward(feats)
            hie = self.hie_fea(feats)
            cam = cam[:n] + cam[n:].flip(-1)
            hie = hie[:n] + hie[n:].flip(-1)
            norm_cam = sipe_norm_cam(cam, hie.shape[-2:])
            grid = (x.shape[-2] // 16, x.shape[-1] // 16)
            # CAM.forward: the full-size CLIP map bilinearly (align_corners=True) to the
            # floor grid (H // 16, W // 16), bg = 1 - max there, then to the CAM grid
            clip_fg = self.clip_cams(data_samples, grid, align_corners=True).to(cam)
            clip = add_background(clip_fg, power=1.0)
            clip = F.interpolate(clip, size=hie.shape[-2:], mode='bilinear', align_corners=True)
            cam_class = self.class_maps(norm_cam, labels, hie)
            cam_class, added = pot_fuse(
                cam_class,
                clip,
                None,
                self.add_weight_test,
                clip_bg_weight=None,
                row_mean_ratio=None)
            return torch.cat([cam_class, added], 1)

        return fn

    def merge_label_cams(self, per_scale: Sequence[Tensor], scales: Sequence[float]) -> Tensor:
        return pot_merge_scales(per_scale, scales, self.bg_pad)
