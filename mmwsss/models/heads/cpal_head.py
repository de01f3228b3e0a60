"""CPAL: context prototype-aware learning (Tang et al., CVPR'24), on SIPE's skeleton.

"Hunting Attributes: Context Prototype-Aware Learning for Weakly Supervised Semantic
Segmentation" (arXiv 2403.07630). The official repository (Barrett-python/CPAL) holds only
a README: there is NO code. Everything below is written from the paper's description as
the project's reference gives it (methods-prototype.md §5): context-aware prototypes that
capture intra-class variation, a feature distribution alignment between instance features
and dense features, label-guided classification plus prototype-guided self-supervision, on
the bases the authors name (SIPE, CLIP-ES, SFC). Every choice the description leaves open
is an argument of :class:`CPALHead` / :class:`~mmwsss.models.losses.terms.cpal.CPALTerm`
(configs/cpal/README.md lists them with the reasons for the defaults).

Shapes: ``B`` images, ``C`` foreground classes, ``K = 1 + C`` (channel 0 = background),
``D`` the channels of SIPE's hierarchical feature ``hie_fea`` on the ``h x w`` grid,
``S`` bank slots per class.

1. instance prototypes (:func:`instance_prototypes`): SIPE's structure-aware seeds
   (:func:`~.sipe_head.get_seed`) of the classifier CAM -- or of an external CAM such as
   CLIP-ES's (:func:`seed_cam`) -- pooled on ``hie_fea`` (seed-area mean) and
   L2-normalised, one per image and class; ``present`` = the class has seed pixels;
2. the context bank: a :class:`~mmwsss.models.prototypes.PrototypeBank` of ``K`` classes x
   ``S`` slots holding the instance prototypes of earlier images (label-masked FIFO by
   default): the "contexts" a class appears in across the data set;
3. context-aware prototypes (:func:`context_aware_prototypes`): soft positive neighbour
   selection -- the ``topk`` bank slots of the same class most similar to the instance
   prototype (the anchor), weighted by ``softmax(cos / tau)`` -- blended with the anchor:
   ``P_c = normalize(lambda * a_c + (1 - lambda) * sum_j w_j q_cj)``;
4. PA-CAM (:func:`pa_cam`): ``relu(cos(hie_fea, P_c))`` for the classes with seeds, 0
   otherwise (SIPE's ``reactivate`` with context-aware prototypes);
5. the losses are in mmwsss/models/losses/cpal_loss.py.
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from ..prototypes.bank import PrototypeBank
from ..prototypes.functional import cosine_maps, masked_average
from ..utils.cam import add_background, labels_with_bg
from ..utils.cam_files import load_batch_cams
from .sipe_head import SIPEHead, get_seed, sipe_norm_cam


def seed_cam(norm_cam: Tensor, ext_cam: Optional[Tensor] = None, ext_weight: float = 0.0) -> Tensor:
    """The CAM the seeds are located on: ``(1 - w) * norm_cam + w * ext_cam``.

    Args:
        norm_cam: (B, K, h, w) SIPE's normalised classifier CAM with bg = 1 - max fg.
        ext_cam: optional (B, K, h, w) external CAM (CLIP-ES), max-normalised fg with bg =
            1 - max fg, on the same grid.
        ext_weight: w in [0, 1]; 0 (or no ``ext_cam``) gives ``norm_cam`` unchanged.
    Returns:
        (B, K, h, w).
    """
    if ext_cam is None or ext_weight == 0.0:
        return norm_cam
    if ext_cam.shape != norm_cam.shape:
        raise ValueError(f'external CAM {tuple(ext_cam.shape)} and norm_cam '
                         f'{tuple(norm_cam.shape)} differ in shape')
    return (1.0 - ext_weight) * norm_cam + ext_weight * ext_cam


def instance_prototypes(seeds: Tensor, feature: Tensor, eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """Per image and class, the L2-normalised mean feature of the seed pixels.

    Args:
        seeds: (B, K, h', w') 0/1 seeds (nearest-resized to the feature grid).
        feature: (B, D, h, w) ``hie_fea``.
        eps: of the seed-area division (``masked_average(reduction='weight')``).
    Returns:
        ``anchors`` (B, K, D), unit rows (zero rows for classes without seeds; the direction
        is SIPE's prototype's: SIPE divides by h*w instead, which the cosine removes), and
        ``present`` (B, K) bool: the class has at least one seed pixel.
    """
    if seeds.shape[-2:] != feature.shape[-2:]:
        seeds = F.interpolate(seeds, size=feature.shape[-2:], mode='nearest')
    protos = masked_average(feature, seeds, reduction='weight', eps=eps)
    present = seeds.flatten(2).sum(-1) > 0
    anchors = F.normalize(protos, dim=-1) * present[..., None].to(protos.dtype)
    return anchors, present


def soft_neighbour_weights(sims: Tensor,
                           valid: Tensor,
                           topk: Optional[int] = 8,
                           tau: float = 0.1) -> Tensor:
    """Soft positive neighbour selection: softmax over the ``topk`` most similar valid slots.

    Args:
        sims: (B, K, S) cosine of each anchor with its class's S bank slots.
        valid: (K, S) bool, slots written at least once.
        topk: neighbours kept per anchor (None: every valid slot); fewer valid slots keep
            them all.
        tau: softmax temperature.
    Returns:
        (B, K, S) weights, summing to 1 over the kept slots of a class that has any, 0
        elsewhere (a class without valid slots gets all zeros).
    """
    b, k, s = sims.shape
    mask = valid[None].expand(b, k, s)
    logits = (sims / tau).masked_fill(~mask, float('-inf'))
    if topk is not None and topk < s:
        kth = logits.topk(topk, dim=-1).values[..., -1:]
        # ties at the k-th value are all kept (deterministic, order-free)
        logits = logits.masked_fill(logits < kth, float('-inf'))
    has = mask.any(-1, keepdim=True)
    logits = torch.where(has, logits, torch.zeros_like(logits))
    weights = logits.softmax(-1)
    return weights * has.to(weights.dtype)


def context_aware_prototypes(anchors: Tensor,
                             present: Tensor,
                             bank: Tensor,
                             valid: Tensor,
                             topk: Optional[int] = 8,
                             tau: float = 0.1,
                             anchor_weight: float = 0.5) -> Tensor:
    """``P_c = normalize(lambda * a_c + (1 - lambda) * sum_j w_j q_cj)`` per image and class.

    Args:
        anchors: (B, K, D) unit instance prototypes (:func:`instance_prototypes`).
        present: (B, K) bool, the classes with seeds (others get a zero prototype).
        bank: (K, S, D) context prototypes (unit rows, as written by :class:`CPALHead`).
        valid: (K, S) bool written slots.
        topk, tau: of :func:`soft_neighbour_weights`.
        anchor_weight: lambda; 1 ignores the bank (SIPE's image-specific prototype), 0 keeps
            only the context. A class whose bank is still empty keeps its anchor.
    Returns:
        (B, K, D) unit rows (zero for absent classes).
    """
    q = F.normalize(bank.to(anchors.dtype), dim=-1)
    sims = torch.einsum('bkd,ksd->bks', anchors, q)
    w = soft_neighbour_weights(sims, valid.to(anchors.device), topk, tau)
    context = torch.einsum('bks,ksd->bkd', w, q)
    has = w.sum(-1, keepdim=True) > 0
    lam = torch.where(has, torch.full_like(has, anchor_weight, dtype=anchors.dtype),
                      torch.ones_like(has, dtype=anchors.dtype))
    protos = F.normalize(lam * anchors + (1.0 - lam) * context, dim=-1)
    return protos * present[..., None].to(protos.dtype)


def pa_cam(protos: Tensor, feature: Tensor) -> Tensor:
    """Prototype-aware CAM ``relu(cos(feature, P_k))``.

    Args:
        protos: (B, K, D) context-aware prototypes (zero rows give a zero map).
        feature: (B, D, h, w).
    Returns:
        (B, K, h, w).
    """
    return F.relu(cosine_maps(feature, protos))


@MODELS.register_module()
class CPALHead(SIPEHead):
    """SIPE's classifier + side convolutions, with CPAL's context bank.

    ``forward`` is the CAM head's (1x1 classifier on ``in_index`` and GAP);
    :meth:`hie_fea` is SIPE's hierarchical feature; :meth:`cpal_maps` chains seeds ->
    instance prototypes -> context-aware prototypes -> PA-CAM.

    Args:
        bank_slots: S, context prototypes kept per class (open choice, default 64).
        bank_update: ``PrototypeBank`` rule: ``'fifo'`` (a queue of instance prototypes,
            default) or ``'momentum'`` (with ``bank_slots=1``: one running class mean).
        bank_momentum: m of ``'momentum'``.
        bank_bg: keep background prototypes in the bank too (default True: the bg
            channel of PA-CAM is context-aware as well); False leaves bg image-specific.
        topk: soft positive neighbours per anchor (8); None = every valid slot.
        tau: temperature of the neighbour weights (0.1).
        anchor_weight: lambda of :func:`context_aware_prototypes` (0.5).
        ext_cam_dir: optional folder of external (CLIP-ES) CAM files (``cams/<key>.npz`` of
            ``tools/generate_pseudo_labels.py --save-cams``); the training pipeline must then
            not crop (the files cover the whole image), as configs/pot.
        ext_cam_weight: w of :func:`seed_cam` (1.0: seeds from the external CAM only).
        Other arguments: :class:`~.sipe_head.SIPEHead`.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 bank_slots: int = 64,
                 bank_update: str = 'fifo',
                 bank_momentum: float = 0.9,
                 bank_bg: bool = True,
                 topk: Optional[int] = 8,
                 tau: float = 0.1,
                 anchor_weight: float = 0.5,
                 ext_cam_dir: Optional[str] = None,
                 ext_cam_weight: float = 1.0,
                 **kwargs) -> None:
        super().__init__(in_channels=in_channels, num_classes=num_classes, **kwargs)
        if not 0.0 <= anchor_weight <= 1.0:
            raise ValueError(f'anchor_weight must be in [0, 1], got {anchor_weight}')
        if not 0.0 <= ext_cam_weight <= 1.0:
            raise ValueError(f'ext_cam_weight must be in [0, 1], got {ext_cam_weight}')
        if topk is not None and topk < 1:
            raise ValueError(f'topk must be >= 1 or None, got {topk}')
        self.bank = PrototypeBank(
            num_classes=1 + num_classes,
            dim=self.num_channels_hie,
            num_slots=bank_slots,
            update=bank_update,
            momentum=bank_momentum)
        self.bank_bg = bank_bg
        self.topk = topk
        self.tau = tau
        self.anchor_weight = anchor_weight
        self.ext_cam_dir = ext_cam_dir
        self.ext_cam_weight = ext_cam_weight

    # ---------------------------------------------------------------- external CAMs
    def ext_cams(self,
                 samples,
                 size: Tuple[int, int],
                 fg_mask: Optional[Tensor] = None,
                 align_corners: bool = False) -> Tensor:
        """(B, K, h, w) external CAMs of a batch (the files' fg maps, max-normalised per
        class as CLIP-ES writes them, clamped to [0, 1]), times ``fg_mask`` ((B, C, h, w)
        or (B, C, 1, 1): the labels / valid region), then bg = 1 - max fg."""
        if not self.ext_cam_dir:
            raise KeyError('CPALHead: no ext_cam_dir (the folder of CLIP-ES CAM files)')
        fg = load_batch_cams(self.ext_cam_dir, samples, self.num_classes, size, align_corners)
        fg = fg.clamp(0, 1)
        if fg_mask is not None:
            fg = fg * fg_mask.to(fg)
        return add_background(fg, power=1.0)

    # ---------------------------------------------------------------- the CPAL steps
    def cpal_maps(self,
                  norm_cam: Tensor,
                  hie: Tensor,
                  seed_feature: Tensor,
                  seed_valid: Tensor,
                  ext_cam: Optional[Tensor] = None) -> dict:
        """Seeds -> instance prototypes -> context-aware prototypes -> PA-CAM.

        Args:
            norm_cam: (B, K, h, w) SIPE's normalised CAM (x valid in training).
            hie: (B, D, h, w) hierarchical feature (gradient flows into PA-CAM).
            seed_feature: (B, D', h, w) feature of SIPE's structure-aware seeds.
            seed_valid: (B, K, h, w) or (B, K, 1, 1) mask of the seeds.
            ext_cam: optional (B, K, h, w) external CAM (see :func:`seed_cam`).
        Returns:
            dict(seeds (B, K, h, w), anchors (B, K, D) detached unit instance prototypes,
            present (B, K), protos (B, K, D) context-aware prototypes (with gradient through
            the anchors' features), pa_cam (B, K, h, w)).
        """
        cam = seed_cam(norm_cam.detach(), ext_cam,
                       self.ext_cam_weight if ext_cam is not None else 0.0)
        seeds, _ = get_seed(cam, seed_valid, seed_feature.detach(), self.bg_scale)
        anchors, present = instance_prototypes(seeds, hie)
        valid = self.bank.valid
        if not self.bank_bg:
            valid = valid.clone()
            valid[0] = False
        protos = context_aware_prototypes(anchors, present, self.bank.protos, valid, self.topk,
                                          self.tau, self.anchor_weight)
        return dict(
            seeds=seeds,
            anchors=anchors.detach(),
            present=present,
            protos=protos,
            pa_cam=pa_cam(protos, hie))

    @torch.no_grad()
    def update_bank(self, anchors: Tensor, present: Tensor) -> None:
        """Write this batch's instance prototypes (B, K, D) of the present classes (B, K)
        into the bank (after they were used: an image is never its own context)."""
        present = present.clone()
        if not self.bank_bg:
            present[:, 0] = False
        self.bank.write(anchors, present)

    def label_cam_fn(self,
                     branch,
                     img_labels: Tensor,
                     data_samples=None) -> Callable[[Tensor], Tensor]:
        """``x (B, 3, h, w) -> PA-CAM (B, K, h', w')`` at one scale (SIPE's ``CAM.forward``
        with context-aware prototypes from the trained bank; the bank is only read).

        The image and its flip run as one batch; their CAMs and hierarchical features are
        summed (the flip undone) before the seeds; the seeds are masked by the labels.
        With ``ext_cam_dir`` the image's external CAM is bilinearly resized to the grid.
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
            norm_cam = sipe_norm_cam(cam, hie.shape[-2:])
            ext = None
            if self.ext_cam_dir:
                ext = self.ext_cams(data_samples, tuple(hie.shape[-2:]), labels[:, 1:]).to(hie)
            out = self.cpal_maps(norm_cam, hie, seed_feat, labels, ext)
            return out['pa_cam']

        return fn


__all__: Sequence[str] = [
    'CPALHead', 'seed_cam', 'instance_prototypes', 'soft_neighbour_weights',
    'context_aware_prototypes', 'pa_cam'
]
