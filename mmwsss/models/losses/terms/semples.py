"""SemPLeS (Semantic Prompt Learning, Lin, Wang, Wang, Chen, WACV'25): three training stages
of a CAM model (WeakTr) against a frozen CLIP, written from the paper and the reference
(methods-foundation.md §6; the official code carries a non-commercial licence and was only
read to check the form of the formulas).

For every positive (image n, class c) the fine CAM ``M_c`` is resized to CLIP's 224 x 224
(bilinear, ``align_corners=True``) and min-max normalised, ``(M - min) / (max - min + eps)``
(eps 0.1 in stages a and c, 1e-4 in stage b: :func:`semples_cam_maps`); the views are
``fg = M_c * I`` and ``bg = (1 - M_c) * I`` (CLIMS's :func:`clims_masked_views`). With
``s(v, t)`` the cosine of the L2-normalised CLIP image embedding of view v and the
L2-normalised text embedding t (``clip_forward``: a dot product of normalised features,
:func:`cosine_pairs`), clamped to [1e-4, 0.9999] inside every loss:

(a) Segment-Label Matching   L = L_OTM + l1 * L_BTM
        L_OTM = -mean log s(fg, t_c), L_BTM = -mean log(1 - s(bg, t_c))   (CLIMS's formulas,
        text ``'a photo of {}.'``; l1 = 2.4 VOC / 0.75 COCO)
(b) Contrastive Prompt Learning (CAM model frozen; learn the background text prompts p_c,
    ``'a photo of [P_1 .. P_30].'``, one set per class)
        L = -mean log s(bg, p_c) + l2 * mean log s(t_c, p_c)   (l2 = 0.02 VOC / 0.01 COCO)
(c) Prompt-guided Semantic Refinement (restart from the CAM checkpoint, prompts frozen)
        L = L_OTM + l1 * L_BTM + l3 * (-mean log(1 - s(fg, p_c)))   (l3 = 0.05 VOC / 0.2 COCO)

CLIP input: the official code multiplies the maps into WeakTr's ImageNet-normalised input
and gives that to CLIP without CLIP's own normalisation (reference §15.2, a quirk shared with
CLIMS). The intent is CLIP seeing images normalised as it was trained (CLIP's own
statistics); ``clip_input='clip'`` (default, the intent) maps the input from the data
preprocessor's statistics to CLIP's before masking, ``clip_input='inputs'`` reproduces the
official quirk.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ...foundation.clims_prompts import CLIMS_COCO_NAMES, CLIMS_VOC_NAMES
from ...utils.cam import normalize_cams
from .base import LossTerm
from .clims import clims_masked_views, cosine_pairs, sim_max_loss, sim_min_loss

SIM_CLAMP = (1e-4, 0.9999)
SEMPLES_TEMPLATE = 'a photo of {}.'
BTP_TEMPLATE = 'a photo of {ctx}.'
# clip_utils.category_dict: VOC with 'player' for person, as CLIMS' class texts
SEMPLES_VOC_NAMES: List[str] = list(CLIMS_VOC_NAMES)
# the 80 COCO classes in this package's order; the official list has the 90 COCO category
# ids (with the 10 unused ones, e.g. 'street sign') and 'person' (CLIMS says 'player')
SEMPLES_COCO_NAMES: List[str] = ['person'] + CLIMS_COCO_NAMES[1:]
SEMPLES_NAMES = dict(voc=SEMPLES_VOC_NAMES, coco=SEMPLES_COCO_NAMES)
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]
STAGES = ('matching', 'prompt', 'refine')

# ---------------------------------------------------------------- formulas


def semples_cam_maps(cams: Tensor, size: int = 224, eps: float = 0.1) -> Tensor:
    """The maps that mask CLIP's views: every (B, C) map resized to ``size x size``
    (bilinear, ``align_corners=True``) THEN min-max normalised over its pixels,
    ``(M - min) / (max - min + eps)`` (:func:`normalize_cams` ``'minmax'``).

    Stages a and c use eps 0.1 (the maps then stay below ``range / (range + 0.1)``, never
    1), stage b 1e-4.

    Args:
        cams: (B, C, h, w) fine CAMs.
    Returns:
        (B, C, size, size).
    """
    up = F.interpolate(cams, (size, size), mode='bilinear', align_corners=True)
    return normalize_cams(up, 'minmax', eps)


def log_similarity(sim: Tensor, clamp: Optional[Tuple[float, float]] = SIM_CLAMP) -> Tensor:
    """mean_i log s_i of (P,) similarities, clamped first (the official text-prompt term
    clamps ``label_similarity`` to [1e-4, 0.9999] before the log)."""
    if clamp is not None:
        sim = sim.clamp(*clamp)
    return torch.log(sim).mean()


def contrastive_prompt_loss(
        sim_bg_prompt: Tensor,
        sim_text_prompt: Tensor,
        lambda2: float,
        clamp: Optional[Tuple[float, float]] = SIM_CLAMP) -> Tuple[Tensor, Tensor]:
    """Stage b: ``-mean log s(bg, p_c)`` and ``lambda2 * mean log s(t_c, p_c)``.

    The first pulls each class's prompt towards the CLIP embedding of the background view
    (what co-occurs with the class but is not it), the second pushes the prompt away from
    the class's own label text, so the prompt describes the background, not the class.

    Args:
        sim_bg_prompt: (P,) cosine of the background views with their class's prompt.
        sim_text_prompt: (P,) cosine of the class texts ``'a photo of {c}.'`` with the prompts.
        lambda2: 0.02 (VOC) / 0.01 (COCO).
    Returns:
        (pull, push); the stage-b loss is their sum.
    """
    return sim_max_loss(sim_bg_prompt, 1.0, clamp), lambda2 * log_similarity(sim_text_prompt, clamp)


def prompt_refinement_loss(sim_fg_prompt: Tensor,
                           clamp: Optional[Tuple[float, float]] = SIM_CLAMP) -> Tensor:
    """Stage c: ``-mean log(1 - s(fg, p_c))`` (the official code reuses CLIMS's BTM loss on
    the object views and the learned prompts); weighted by lambda3 in the term.

    Args:
        sim_fg_prompt: (P,) cosine of the object views with their class's prompt.
    """
    return sim_min_loss(sim_fg_prompt, 1.0, clamp)


def btp_init(num_classes: int, n_ctx: int, width: int, seed: int = 0) -> Tensor:
    """(K, n_ctx, width) U[0, 1) background prompts (``torch.rand``, as the official BTP
    and :class:`PromptLearner` ``ctx_init='uniform'`` with the same seed)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((num_classes, n_ctx, width), generator=gen)


def _text_width(clip_cfg: dict) -> int:
    """The CLIP text width of an :class:`OpenCLIP` config, without building it."""
    arch = clip_cfg.get('arch', 'ViT-B-16')
    if isinstance(arch, str):
        import open_clip
        name = arch[:-len('-quickgelu')] if arch.endswith('-quickgelu') else arch
        cfg = open_clip.get_model_config(name)
        if cfg is None:
            raise KeyError(f"unknown open_clip model '{arch}'")
        return int(cfg['text_cfg']['width'])
    return int(arch['text_cfg']['width'])


def find_prompt_state(state: Dict[str, Tensor],
                      shape: Sequence[int],
                      key: Optional[str] = None) -> Tensor:
    """The learned prompts in a stage-b state dict: ``state[key]`` or, with no key, the one
    entry named ``*.prompts`` of the expected ``shape``."""
    if key is not None:
        if key not in state:
            raise KeyError(f"no '{key}' in the prompt checkpoint; entries ending in "
                           f"'prompts': {[k for k in state if k.endswith('prompts')]}")
        found = [key]
    else:
        found = [
            k for k in state
            if k.split('.')[-1] == 'prompts' and tuple(state[k].shape) == tuple(shape)
        ]
        if len(found) != 1:
            raise KeyError(f'expected one learned-prompt entry (*.prompts, shape {tuple(shape)}) '
                           f'in the prompt checkpoint, found {found}; set prompt_key')
    value = state[found[0]]
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"prompt entry '{found[0]}' has shape {tuple(value.shape)}, expected "
                         f'{tuple(shape)}')
    return value


# ---------------------------------------------------------------- the term


@MODELS.register_module()
class SemPLeSTerm(LossTerm):
    """One SemPLeS stage for CAM head ``cam`` against a frozen CLIP.

    Args:
        cam: the CAM head whose fine CAMs ``ctx.cams[cam]`` (B, C, h, w) are used.
        stage: ``'matching'`` (a), ``'prompt'`` (b: the prompts are the only trained
            parameters; the CAMs are detached) or ``'refine'`` (c: prompts frozen).
        clip: ``OpenCLIP`` config (SemPLeS: OpenAI ViT-B/32, ``arch='ViT-B-32'``,
            ``quick_gelu=True``, a local checkpoint). Built lazily at the first training
            step and kept out of the state dict (as :class:`CLIMSTerm`).
        dataset: ``'voc'`` / ``'coco'`` (class names) unless ``class_names`` is given.
        lambda1: L_BTM weight (a, c): 2.4 VOC / 0.75 COCO.
        lambda2: text-prompt weight (b): 0.02 VOC / 0.01 COCO.
        lambda3: prompt-refinement weight (c): 0.05 VOC / 0.2 COCO.
        eps: min-max stabiliser of the maps (None: 0.1 in a / c, 1e-4 in b).
        n_ctx: prompt length L (30).
        prompt_seed: seed of the U[0, 1) prompt init (the official ``torch.rand`` is
            unseeded beyond the run's global seed).
        prompt_checkpoint: stage c: the stage-b mmengine checkpoint whose prompts are
            loaded in ``init_weights`` (training start; a test run reads the prompts from
            its own checkpoint). Read with ``safe_torch_load``; a missing file fails naming it.
        prompt_key: the state-dict key of the prompts there (None: the one ``*.prompts``
            entry of the right shape).
        clip_input: ``'clip'`` (default, paper intent: the input is mapped from
            ``src_mean/src_std`` to CLIP's statistics before masking) or ``'inputs'``
            (official quirk: the ImageNet-normalised input as is).
        src_mean / src_std: the data preprocessor's statistics (0-255 units; ImageNet).
        clip_size: CLIP's input side (224). clip_pool: OpenCLIP pooling (``'tok'``: CLS,
            OpenAI CLIP's ``encode_image``).
    """

    def __init__(self,
                 name: str = 'semples',
                 cam: str = 'weaktr',
                 stage: str = 'matching',
                 clip: dict = dict(type='OpenCLIP', arch='ViT-B-32', quick_gelu=True),
                 dataset: str = 'voc',
                 class_names: Optional[Sequence[str]] = None,
                 lambda1: float = 2.4,
                 lambda2: float = 0.02,
                 lambda3: float = 0.05,
                 eps: Optional[float] = None,
                 n_ctx: int = 30,
                 prompt_seed: int = 0,
                 prompt_checkpoint: Optional[str] = None,
                 prompt_key: Optional[str] = None,
                 clip_input: str = 'clip',
                 src_mean: Sequence[float] = IMAGENET_MEAN,
                 src_std: Sequence[float] = IMAGENET_STD,
                 clip_size: int = 224,
                 align_corners: bool = True,
                 clip_pool: str = 'tok',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        from mmwsss.models.foundation.open_clip_model import CLIP_MEAN, CLIP_STD
        if stage not in STAGES:
            raise ValueError(f'stage must be one of {STAGES}, got {stage!r}')
        if clip_input not in ('clip', 'inputs'):
            raise ValueError(f"clip_input must be 'clip' or 'inputs', got {clip_input!r}")
        self.cam = cam
        self.stage = stage
        self.clip_cfg = dict(clip)
        self.class_names: List[str] = list(class_names) if class_names is not None \
            else list(SEMPLES_NAMES[dataset])
        self.texts = [SEMPLES_TEMPLATE.format(n) for n in self.class_names]
        self.lambda1, self.lambda2, self.lambda3 = float(lambda1), float(lambda2), float(lambda3)
        self.eps = float(eps) if eps is not None else (1e-4 if stage == 'prompt' else 0.1)
        self.n_ctx = int(n_ctx)
        self.prompt_seed = int(prompt_seed)
        self.prompt_checkpoint = prompt_checkpoint
        self.prompt_key = prompt_key
        self.clip_input = clip_input
        self.clip_size = int(clip_size)
        self.align_corners = align_corners
        self.clip_pool = clip_pool
        # x_clip = (x * s_src + m_src - m_clip) / s_clip = x * a + b
        a = torch.tensor(src_std, dtype=torch.float32) / torch.tensor(CLIP_STD)
        b = (torch.tensor(src_mean) - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
        self.register_buffer('_scale', a.view(1, 3, 1, 1), persistent=False)
        self.register_buffer('_shift', b.view(1, 3, 1, 1), persistent=False)
        # the background text prompts (BTP) are the term's own parameter, so they are in
        # the model's state dict (saved with every checkpoint) without the CLIP weights
        self.prompts: Optional[nn.Parameter] = None
        if stage in ('prompt', 'refine'):
            width = _text_width(self.clip_cfg)
            self.prompts = nn.Parameter(
                btp_init(len(self.class_names), self.n_ctx, width, self.prompt_seed),
                requires_grad=stage == 'prompt')
        self._frozen: Dict[str, object] = {}

    # ------------------------------------------------------------- weights
    def init_weights(self) -> None:
        super().init_weights()
        if self.stage == 'refine' and self.prompt_checkpoint is not None:
            self.load_prompts(self.prompt_checkpoint)

    def load_prompts(self, path: str) -> None:
        """Copy the stage-b prompts of mmengine checkpoint ``path`` into ``self.prompts``."""
        import os.path as osp

        from mmwsss.utils.checkpoint_compat import safe_torch_load
        if not osp.isfile(path):
            raise FileNotFoundError(f'SemPLeS stage c: the stage-b checkpoint with the learned '
                                    f'prompts, {path}, does not exist (train the stage-b '
                                    'config first, or set prompt_checkpoint)')
        ckpt = safe_torch_load(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        value = find_prompt_state(state, self.prompts.shape, self.prompt_key)
        with torch.no_grad():
            self.prompts.copy_(value.to(self.prompts))

    # ------------------------------------------------------------- CLIP access
    def clip_model(self, device: torch.device):
        """The frozen CLIP on ``device`` (built on first use)."""
        model = self._frozen.get('clip')
        if model is None:
            model = MODELS.build(self.clip_cfg)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._frozen = {'clip': model}
        if next(model.parameters()).device != device:
            model.to(device)
            self._frozen = {'clip': model}
        return model

    def set_clip(self, model) -> None:
        """Use an already built CLIP (tests)."""
        self._frozen = {'clip': model}

    def text_embeddings(self, device: torch.device) -> Tensor:
        """(C, E) L2-normalised ``'a photo of {c}.'`` embeddings (constant: cached)."""
        cached = self._frozen.get('text')
        if cached is None:
            with torch.no_grad():
                cached = self.clip_model(device).encode_text(self.texts, normalize=True)
            self._frozen['text'] = cached.detach()
        return cached

    def prompt_learner(self, device: torch.device):
        """The :class:`PromptLearner` ('a photo of {ctx}.', class-specific, 30 vectors)
        whose context IS ``self.prompts`` (one parameter, saved with the model)."""
        learner = self._frozen.get('learner')
        if learner is None:
            from mmwsss.models.foundation.prompt_learner import PromptLearner
            clip = self.clip_model(device)
            learner = PromptLearner(
                clip,
                self.class_names,
                template=BTP_TEMPLATE,
                n_ctx=self.n_ctx,
                class_specific_ctx=True,
                ctx_init='uniform',
                seed=self.prompt_seed).to(device)
            self._frozen['learner'] = learner
        # the term's parameter replaces the learner's own (same tensor, same gradient)
        learner.ctx = self.prompts
        return learner

    def prompt_features(self, device: torch.device) -> Tensor:
        """(C, E) L2-normalised prompt features (with grad in stage b)."""
        learner = self.prompt_learner(device)
        if self.stage == 'prompt':
            return learner.text_features()
        with torch.no_grad():
            return learner.text_features()

    def clip_image_input(self, inputs: Tensor) -> Tensor:
        if self.clip_input == 'clip':
            return inputs * self._scale.to(inputs) + self._shift.to(inputs)
        return inputs

    # ------------------------------------------------------------- compute
    def compute(self, ctx: TrainContext) -> Dict[str, Tensor]:
        cams = ctx.require('cams', self.cam)
        if self.stage == 'prompt':
            cams = cams.detach()  # the CAM model is frozen in stage b
        device = cams.device
        labels = ctx.img_labels
        model = self.clip_model(device)
        maps = semples_cam_maps(cams, self.clip_size, self.eps)
        img = self.clip_image_input(ctx.inputs)
        fg, bg, pos = clims_masked_views(maps, img, labels, self.clip_size, self.align_corners)
        if pos.shape[0] == 0:
            zero = cams.sum() * 0 + (self.prompts.sum() * 0 if self.prompts is not None else 0)
            keys = {
                'matching': ('loss_otm', 'loss_btm', 'otm', 'btm'),
                'prompt': ('loss_bg_prompt', 'loss_text_prompt'),
                'refine': ('loss_otm', 'loss_btm', 'loss_prompt', 'otm', 'btm', 'prompt')
            }[self.stage]
            return {k: zero for k in keys}
        cls = pos[:, 1]
        if self.stage == 'prompt':
            with torch.no_grad():
                bg_emb = model.encode_image(bg, pool=self.clip_pool, normalize=True)
            p = self.prompt_features(device)[cls]
            t = self.text_embeddings(device)[cls].to(p.dtype)
            pull, push = contrastive_prompt_loss(
                cosine_pairs(bg_emb, p), cosine_pairs(t, p), self.lambda2)
            return {'loss_bg_prompt': pull, 'loss_text_prompt': push}
        emb = model.encode_image(torch.cat([fg, bg], 0), pool=self.clip_pool, normalize=True)
        fg_emb, bg_emb = emb[:pos.shape[0]], emb[pos.shape[0]:]
        txt = self.text_embeddings(device)[cls].to(emb.dtype)
        otm = sim_max_loss(cosine_pairs(fg_emb, txt), 1.0, SIM_CLAMP)
        btm = sim_min_loss(cosine_pairs(bg_emb, txt), 1.0, SIM_CLAMP)
        out = {
            'loss_otm': otm,
            'loss_btm': self.lambda1 * btm,
            'otm': otm.detach(),
            'btm': btm.detach()
        }
        if self.stage == 'refine':
            p = self.prompt_features(device)[cls].to(emb.dtype)
            ref = prompt_refinement_loss(cosine_pairs(fg_emb, p))
            out['loss_prompt'] = self.lambda3 * ref
            out['prompt'] = ref.detach()
        return out
