"""CLIMS (Cross Language Image Matching, Xie et al., CVPR'22): the CAM classifier is
trained against a frozen CLIP by text matching, with no classification loss.

For every positive (image n, class c) the sigmoid map ``x_c`` of the classifier masks
the image: the object view ``x_c * I`` should match the class text, the background view
``(1 - x_c) * I`` should not, the object view should not match co-occurring background
texts, and an area regulariser keeps the maps small:

    L = alpha * L_OTM + beta * L_BTM + gamma * L_CBS + delta * L_REG

Two versions exist in CVI-SZU/CLIMS and are options of :class:`CLIMSTerm`
(``version``): ``'root'`` (the improved version at the repository root:
``step/train_clims.py``, ``clip_loss.py``, ``clip_utils.py``) and ``'camera_ready'``
(``previous_version/train_CLIMS.py``, ``clip_loss.py``, ``clip_utils.py``). They differ in
the prompts (:mod:`mmwsss.models.foundation.clims_prompts`), the clamp of the
similarities, the CBS rule and the per-class text weights; see each function.

The formulas are plain tensor functions below (shapes documented), so they can be
compared with the official code on identical inputs.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from .base import LossTerm

# ---------------------------------------------------------------- formulas


def clims_masked_views(maps: Tensor,
                       img: Tensor,
                       labels: Tensor,
                       size: int = 224,
                       align_corners: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """The object and background views CLIP sees, one per positive (image, class).

    As ``train_clims.py``: the maps and the image are resized bilinearly
    (``align_corners=True``) to ``size x size`` (CLIP's input; the aspect ratio is
    NOT kept), then ``fg = map_c * img`` and ``bg = (1 - map_c) * img``. The image is
    whatever the classifier received (the official code feeds the ImageNet-normalised
    crop to CLIP, no CLIP re-normalisation); padding is part of it.

    Resizing only the selected channels equals resizing all and selecting (the resize
    is per channel); the positives are in row-major (image, class) order, the order of
    ``torch.nonzero(label == 1)`` in the official code.

    Args:
        maps: (B, C, h, w) maps in [0, 1] (sigmoid of the classifier).
        img: (B, 3, H, W) images.
        labels: (B, C) multi-hot image labels.
        size: CLIP's input side (224; 288 for RN50x4).
    Returns:
        fg (P, 3, size, size), bg (P, 3, size, size), pos (P, 2) long [image, class].
    """
    pos = torch.nonzero(labels == 1, as_tuple=False)
    sel = maps[pos[:, 0], pos[:, 1]].unsqueeze(1)  # (P, 1, h, w)
    sel = F.interpolate(sel, (size, size), mode='bilinear', align_corners=align_corners)
    im = F.interpolate(img, (size, size), mode='bilinear', align_corners=align_corners)
    im = im[pos[:, 0]]
    return sel * im, (1 - sel) * im, pos


def cosine_pairs(img_emb: Tensor, txt_emb: Tensor) -> Tensor:
    """(P,) cosine of row i of (P, E) image embeddings with row i of (P, E) text ones
    (``clip_forward``: both L2-normalised, then a batched dot product)."""
    return (F.normalize(img_emb, dim=-1) * F.normalize(txt_emb, dim=-1)).sum(-1)


def _weighted_mean(x: Tensor, weights: Union[Tensor, float]) -> Tensor:
    return (x * weights).mean()


def sim_max_loss(
    sim: Tensor,
    weights: Union[Tensor, float] = 1.0,
    clamp: Optional[Tuple[float, float]] = (1e-4, 0.9999)
) -> Tensor:
    """L_OTM = -mean_i w_i log s_i (``SimMaxLoss``, margin 0).

    Args:
        sim: (P,) similarities of the object views with their class texts.
        weights: (P,) or a number (root: 1; camera-ready: 3 for sofa / dining table /
            chair, else 1).
        clamp: the root version clamps ``s`` to [1e-4, 0.9999] first; the
            camera-ready version does not (None).
    """
    if clamp is not None:
        sim = sim.clamp(*clamp)
    return -_weighted_mean(torch.log(sim), weights)


def sim_min_loss(
    sim: Tensor,
    weights: Union[Tensor, float] = 1.0,
    clamp: Optional[Tuple[float, float]] = (1e-4, 0.9999)
) -> Tensor:
    """L_BTM = -mean_i w_i log(1 - s_i) (``SimMinLoss``, margin 0); ``sim`` (P,) are the
    similarities of the BACKGROUND views with the class texts; ``clamp`` as
    :func:`sim_max_loss`."""
    if clamp is not None:
        sim = sim.clamp(*clamp)
    return -_weighted_mean(torch.log(1 - sim), weights)


def background_suppression_loss(sim: Tensor, threshold: float = 0.26) -> Tensor:
    """Root L_CBS = -sum_{i,k} log(1 - s_ik) [s_ik > threshold] (``BackgroundSuppression
    Loss``: a SUM over positives and prompts, not a mean; no clamp).

    Args:
        sim: (P, K) cosine of each object view with each co-occurring background prompt.
        threshold: 0.26 (VOC default); the COCO recipe passes 0.285.
    """
    mask = (sim > threshold).to(sim.dtype)
    # entries below the threshold are multiplied by 0 as in the official code
    return -(torch.log(1 - sim) * mask).sum()


def background_suppression_loss_cr(sim: Tensor, has_bg: Tensor) -> Tensor:
    """Camera-ready L_CBS = sum over positives whose class has background prompts of
    -mean_k log(1 - s_ik) (no threshold, no clamp).

    Args:
        sim: (P, K) cosine of each object view with the background prompts of ITS class
            (columns beyond a class's own prompts are ignored through ``has_bg``).
        has_bg: (P, K) bool, True where prompt k belongs to the class of positive i.
    """
    if not bool(has_bg.any()):
        return sim.sum() * 0
    per = -(torch.log(1 - sim) * has_bg).sum(1) / has_bg.sum(1).clamp(min=1)
    return per[has_bg.any(1)].sum()


def area_loss(maps: Tensor) -> Tensor:
    """L_REG = mean of all (B, C, h, w) sigmoid maps (every class, every pixel; the
    camera-ready version excludes its unused background channel 0, which this
    package's head does not build)."""
    return maps.mean()


# ---------------------------------------------------------------- the term


@MODELS.register_module()
class CLIMSTerm(LossTerm):
    """The four CLIMS losses of CAM head ``cam`` against a frozen CLIP.

    Args:
        cam: the CAM head whose raw maps ``ctx.cams[cam]`` (B, C, h, w) are trained;
            the term applies the sigmoid (``torch.sigmoid(classifier(f))``).
        clip: the CLIP config (``OpenCLIP``; CLIMS: OpenAI ViT-B/32, ``arch='ViT-B-32'``,
            ``quick_gelu=True``, a local checkpoint). Built LAZILY at the first training
            step and kept out of the model's state dict, so that a test run (CAM seeds)
            needs no CLIP file and checkpoints hold the classifier only; a missing file
            fails there, naming it.
        dataset: ``'voc'`` or ``'coco'`` (prompts, :mod:`clims_prompts`).
        version: ``'root'`` (default, the repository's improved version: clamp,
            thresholded CBS over one background list) or ``'camera_ready'`` (VOC only:
            no clamp, per-class CBS for boat/train, text weights 3 for sofa, dining
            table and chair).
        loss_weights: (alpha, beta, gamma, delta) of L_OTM, L_BTM, L_CBS, L_REG (root
            VOC 10, 24, 1, 0.2; COCO 2, 14, 1.25, 0.2; camera-ready 10, 25, 29.5, 1.15).
        cbs_thr: threshold of the root CBS (VOC 0.26, COCO 0.285).
        clip_size: CLIP's input side (224).
        clip_input: ``'inputs'``: CLIP sees the classifier's normalised input as is
            (the official code: ImageNet statistics in the root version, CLIP statistics
            in the camera-ready one); ``'renormalize'``: the input is mapped from
            ``src_mean/src_std`` to ``mean/std`` (0-255 units) first, for a classifier
            whose statistics differ from the official one (the CPU EfficientNet).
        class_prompts / bg_prompts: override the prompt lists (None: the version's).
        clip_pool: image embedding of OpenCLIP (``'tok'``: CLS token + ln_post + proj,
            OpenAI CLIP's ``encode_image`` for ViT).

    Returns ``loss_otm``, ``loss_btm``, ``loss_cbs``, ``loss_reg`` (each already times
    its ``loss_weights`` entry) and the raw values ``otm``/``btm``/``cbs``/``reg``
    (logged only).
    """

    loss_keys = ('loss_otm', 'loss_btm', 'loss_cbs', 'loss_reg')

    def __init__(self,
                 name: str = 'clims',
                 cam: str = 'clims',
                 clip: dict = dict(type='OpenCLIP', arch='ViT-B-32', quick_gelu=True),
                 dataset: str = 'voc',
                 version: str = 'root',
                 loss_weights: Sequence[float] = (10.0, 24.0, 1.0, 0.2),
                 cbs_thr: float = 0.26,
                 clip_size: int = 224,
                 align_corners: bool = True,
                 clip_input: str = 'inputs',
                 src_mean: Optional[Sequence[float]] = None,
                 src_std: Optional[Sequence[float]] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 class_prompts: Optional[Sequence[str]] = None,
                 bg_prompts: Optional[Sequence[str]] = None,
                 clip_pool: str = 'tok',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        from mmwsss.models.foundation import clims_prompts as P
        if version not in ('root', 'camera_ready'):
            raise ValueError(f"version must be 'root' or 'camera_ready', got {version!r}")
        if clip_input not in ('inputs', 'renormalize'):
            raise ValueError(f"clip_input must be 'inputs' or 'renormalize', got {clip_input!r}")
        if clip_input == 'renormalize' and None in (src_mean, src_std, mean, std):
            raise ValueError("clip_input='renormalize' needs src_mean, src_std, mean, std")
        if len(loss_weights) != 4:
            raise ValueError('loss_weights are (alpha, beta, gamma, delta)')
        self.cam = cam
        self.clip_cfg = dict(clip)
        self.version = version
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.cbs_thr = float(cbs_thr)
        self.clip_size = int(clip_size)
        self.align_corners = align_corners
        self.clip_input = clip_input
        self.clip_pool = clip_pool
        if clip_input == 'renormalize':
            # x' = (x * s_src + m_src - m) / s = x * a + b
            a = torch.tensor(src_std, dtype=torch.float32) / torch.tensor(std)
            b = (torch.tensor(src_mean) - torch.tensor(mean)) / torch.tensor(std)
            self.register_buffer('_scale', a.view(1, 3, 1, 1), persistent=False)
            self.register_buffer('_shift', b.view(1, 3, 1, 1), persistent=False)
        self.class_prompts: List[str] = list(class_prompts) if class_prompts is not None \
            else P.clims_class_prompts(dataset, version)
        if version == 'root':
            self.bg_prompts: List[str] = list(bg_prompts) if bg_prompts is not None \
                else P.clims_bg_prompts(dataset)
            self.clamp: Optional[Tuple[float, float]] = (1e-4, 0.9999)
            self.class_weights: Optional[List[float]] = None
            self.cr_bg: Dict[int, List[str]] = {}
        else:
            if dataset != 'voc':
                raise ValueError("CLIMS camera-ready version exists for 'voc' only")
            self.cr_bg = P.clims_cr_bg_prompts()
            self.bg_prompts = [p for c in sorted(self.cr_bg) for p in self.cr_bg[c]]
            self.clamp = None
            self.class_weights = P.clims_cr_class_weights()
        # lazily built CLIP and cached text embeddings, held outside the module tree
        # (no parameters in the optimizer, no entries in the state dict)
        self._frozen: Dict[str, object] = {}

    # ------------------------------------------------------------- CLIP access
    def clip_model(self, device: torch.device):
        """The frozen CLIP on ``device`` (built on first use)."""
        model = self._frozen.get('clip')
        if model is None:
            model = MODELS.build(self.clip_cfg)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._frozen['clip'] = model
            self._frozen.pop('text', None)
        if next(model.parameters()).device != device:
            model.to(device)
            self._frozen.pop('text', None)
        return model

    def set_clip(self, model) -> None:
        """Use an already built CLIP (tests)."""
        self._frozen = {'clip': model}

    def text_embeddings(self, device: torch.device) -> Tuple[Tensor, Tensor]:
        """(C, E) class and (K, E) background prompt embeddings, L2-normalised.

        Constant (CLIP is frozen): computed once without grad; the official code
        re-encodes the same texts every step, with the same values.
        """
        cached = self._frozen.get('text')
        if cached is None:
            model = self.clip_model(device)
            with torch.no_grad():
                cls = model.encode_text(self.class_prompts, normalize=True)
                bg = model.encode_text(self.bg_prompts, normalize=True) if self.bg_prompts \
                    else cls.new_zeros((0, cls.shape[1]))
            cached = (cls.detach(), bg.detach())
            self._frozen['text'] = cached
        return cached

    def clip_image_input(self, inputs: Tensor) -> Tensor:
        if self.clip_input == 'renormalize':
            return inputs * self._scale.to(inputs) + self._shift.to(inputs)
        return inputs

    # ------------------------------------------------------------- compute
    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        raw = ctx.require('cams', self.cam)
        maps = torch.sigmoid(raw)
        labels = ctx.img_labels
        device = raw.device
        model = self.clip_model(device)
        cls_emb, bg_emb = self.text_embeddings(device)
        img = self.clip_image_input(ctx.inputs)
        fg, bg, pos = clims_masked_views(maps, img, labels, self.clip_size, self.align_corners)
        reg = area_loss(maps)
        a, b, g, d = self.loss_weights
        if pos.shape[0] == 0:
            zero = maps.sum() * 0
            otm = btm = cbs = zero
        else:
            emb = model.encode_image(torch.cat([fg, bg], 0), pool=self.clip_pool, normalize=True)
            fg_emb, bg_img_emb = emb[:pos.shape[0]], emb[pos.shape[0]:]
            txt = self.positive_text_embeddings(ctx, pos, cls_emb).to(emb.dtype)
            s_fg = cosine_pairs(fg_emb, txt)
            s_bg = cosine_pairs(bg_img_emb, txt)
            if self.class_weights is None:
                w: Union[Tensor, float] = 1.0
            else:
                w = torch.tensor(self.class_weights, device=device, dtype=emb.dtype)[pos[:, 1]]
            otm = sim_max_loss(s_fg, w, self.clamp)
            btm = sim_min_loss(s_bg, w, self.clamp)
            s_cbs = fg_emb @ bg_emb.to(emb.dtype).t()  # (P, K), both normalised
            if self.version == 'root':
                cbs = background_suppression_loss(s_cbs, self.cbs_thr)
            else:
                cbs = background_suppression_loss_cr(s_cbs, self._cr_mask(pos[:, 1]))
        return {
            'loss_otm': a * otm,
            'loss_btm': b * btm,
            'loss_cbs': g * cbs,
            'loss_reg': d * reg,
            'otm': otm.detach(),
            'btm': btm.detach(),
            'cbs': cbs.detach(),
            'reg': reg.detach(),
        }

    def positive_text_embeddings(self, ctx: TrainContext, pos: Tensor, cls_emb: Tensor) -> Tensor:
        """(P, E) normalised class text of each positive (image ``pos[i, 0]``, class
        ``pos[i, 1]``): row ``pos[i, 1]`` of the (C, E) class prompt embeddings. A
        subclass with per-image class texts (POLE) overrides this."""
        return cls_emb[pos[:, 1]]

    def _cr_mask(self, cls: Tensor) -> Tensor:
        """(P, K) bool: prompt k is one of the camera-ready prompts of class cls[i]."""
        owner = torch.tensor([c for c in sorted(self.cr_bg) for _ in self.cr_bg[c]],
                             device=cls.device,
                             dtype=torch.long)
        return cls[:, None] == owner[None, :]
