"""MMCST's ViT: MCTformer's class tokens plus class-specific text tokens from a frozen CLIP.

MMCST (Xu et al., CVPR'23) puts two modalities of class-specific tokens in front of the
patch tokens of an MCTformer-style DeiT: C learned *visual* class tokens (MCTformer's) and C
*textual* class tokens, the frozen CLIP text embedding of a class prompt projected to the ViT
width by a learned linear layer. Both are enriched with sample-specific contexts (visual
context, image-language context). The official code could not be read (reference §8): the
way the contexts enter and how the two modalities are combined are our choices, exposed as
options (configs/mmcst/README.md).

Token layout (``token_mode``):

* ``'both'`` (default): K = 2C class tokens, ``[visual_0 .. visual_{C-1}, text_0 .. text_{C-1}]``;
* ``'sum'``: K = C, token c = visual_c + text_c;
* ``'visual'``: K = C, MCTformer itself (no text tokens).

Each class token takes the pretrained class-token position row (MCTformer ``main.py
--finetune`` repeats it for every class), via :class:`TokenViT`'s ``class_tokens``.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures.backbone_output import BackboneOutput
from .token_vit import TokenViT

TOKEN_MODES = ('both', 'sum', 'visual')
VISUAL_CONTEXTS = (None, 'patch_mean')
LANGUAGE_CONTEXTS = (None, 'clip_image')


def class_token_rows(visual: Tensor,
                     text: Optional[Tensor],
                     mode: str,
                     visual_ctx: Optional[Tensor] = None) -> Tensor:
    """The class-token rows that go in front of the patch tokens (before position rows).

    Args:
        visual: (C, D) learned visual class tokens.
        text: (C, D) projected text tokens, or (B, C, D) when they carry a per-sample
            (image-language) context; None for ``mode='visual'``.
        mode: ``'both'`` -> [visual; text] (2C rows); ``'sum'`` -> visual + text (C rows);
            ``'visual'`` -> visual (C rows).
        visual_ctx: (B, D) sample-specific visual context, added to every VISUAL row
            (None: no context).
    Returns:
        (B, K, D); B is 1 when nothing is sample-specific.
    """
    if mode not in TOKEN_MODES:
        raise ValueError(f'token mode must be one of {TOKEN_MODES}, got {mode!r}')
    vis = visual[None]
    if visual_ctx is not None:
        vis = vis + visual_ctx[:, None]
    if mode == 'visual':
        return vis
    if text is None:
        raise ValueError(f"token mode '{mode}' needs text tokens")
    txt = text if text.dim() == 3 else text[None]
    if mode == 'sum':
        return vis + txt
    B = max(vis.shape[0], txt.shape[0])
    return torch.cat([vis.expand(B, -1, -1), txt.expand(B, -1, -1)], 1)


@MODELS.register_module()
class MMCSTViT(TokenViT):
    """A :class:`TokenViT` (timm) whose class tokens are MMCST's multi-modal tokens.

    Args:
        vit: the timm ViT (MCTformer: ``deit_small_patch16_224``, drop-path 0.1).
        num_classes: C foreground classes (one visual and one text token each).
        class_names: the C class names put in the prompts (config order = class order).
        clip: the frozen CLIP (``dict(type='OpenCLIP', arch=..., checkpoint=...)``); its
            text tower encodes the prompts once at construction, the text embeddings are
            kept as the persistent buffer ``text_embeds`` (C, E) (so a trained checkpoint
            restores them), the image tower is kept only for ``language_context``.
        templates: prompt templates, averaged per class (CLIP's zero-shot recipe).
        token_mode: ``'both'`` | ``'sum'`` | ``'visual'`` (see the module docstring).
        visual_context: None | ``'patch_mean'``: ``Linear(D, D)(mean of the embedded patch
            tokens)`` added to the visual rows (zero-initialised, so training starts from
            MCTformer's tokens).
        language_context: None | ``'clip_image'``: the frozen CLIP image embedding of the
            input (L2-normalised, E) mapped by a zero-initialised ``Linear(E, E)`` and added
            to the text embedding before the projection, i.e. the text row becomes
            ``W_t (t_c + W_l e_img) + b_t``.
        clip_size: the CLIP image tower's input size (the input is resized bilinearly and
            renormalised from ``in_mean``/``in_std`` to CLIP's statistics).
        in_mean / in_std: the statistics the input was normalised with (0-255 units).
        crop_to_patch: crop an input whose sides are not multiples of the patch size at
            the bottom/right, as MCTformer's strided patch embedding drops the remainder
            (its maps are then stretched to the whole image by the CAM inference).
        **kwargs: :class:`TokenViT` arguments (``out_blocks``, ``out_norm``, ``attn_blocks``,
            ``init_cfg`` ...); ``class_tokens`` and ``with_cls_token`` are set here.

    Output: :class:`BackboneOutput` with ``cls_tokens`` (B, K, D) in the layout above and
    ``attns`` whose first K rows/columns are these class tokens.
    """

    def __init__(self,
                 vit: dict,
                 num_classes: int,
                 class_names: Optional[Sequence[str]] = None,
                 clip: Optional[dict] = None,
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 token_mode: str = 'both',
                 visual_context: Optional[str] = 'patch_mean',
                 language_context: Optional[str] = 'clip_image',
                 clip_size: int = 224,
                 in_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 in_std: Sequence[float] = (58.395, 57.12, 57.375),
                 crop_to_patch: bool = True,
                 **kwargs) -> None:
        if token_mode not in TOKEN_MODES:
            raise ValueError(f'MMCSTViT: token_mode must be one of {TOKEN_MODES}, '
                             f'got {token_mode!r}')
        if visual_context not in VISUAL_CONTEXTS:
            raise ValueError(f'MMCSTViT: visual_context must be one of {VISUAL_CONTEXTS}, '
                             f'got {visual_context!r}')
        if language_context not in LANGUAGE_CONTEXTS:
            raise ValueError(f'MMCSTViT: language_context must be one of {LANGUAGE_CONTEXTS}, '
                             f'got {language_context!r}')
        for key in ('class_tokens', 'with_cls_token'):
            if key in kwargs:
                raise KeyError(f'MMCSTViT sets {key} itself (from num_classes and token_mode)')
        if str(vit.get('type')) != 'timm':
            raise ValueError("MMCSTViT needs vit=dict(type='timm', ...) (class tokens are "
                             'implemented for timm ViTs)')
        self.num_fg = int(num_classes)
        num_tokens = 2 * self.num_fg if token_mode == 'both' else self.num_fg
        kwargs.setdefault('extra_tokens', {})
        super().__init__(vit=vit, class_tokens=dict(num=num_tokens), with_cls_token=True, **kwargs)
        self.token_mode = token_mode
        self.visual_context = visual_context
        self.language_context = language_context if token_mode != 'visual' else None
        self.clip_size = int(clip_size)
        self.crop_to_patch = bool(crop_to_patch)
        self.register_buffer('in_mean', torch.tensor(in_mean).view(1, 3, 1, 1), False)
        self.register_buffer('in_std', torch.tensor(in_std).view(1, 3, 1, 1), False)
        D = self.embed_dims

        self.clip = None
        if token_mode != 'visual':
            if clip is None or not class_names:
                raise KeyError(f"MMCSTViT: token_mode '{token_mode}' needs clip and "
                               'class_names (the text tokens come from CLIP prompts)')
            if len(class_names) != self.num_fg:
                raise ValueError(f'MMCSTViT: {len(class_names)} class_names for '
                                 f'{self.num_fg} classes')
            clip_model = MODELS.build(dict(clip, frozen=True))
            with torch.no_grad():
                emb = clip_model.class_embeddings(list(class_names), list(templates))
            self.register_buffer('text_embeds', emb.float().clone())  # (C, E), persistent
            E = emb.shape[-1]
            self.text_proj = nn.Linear(E, D)
            nn.init.trunc_normal_(self.text_proj.weight, std=.02)
            nn.init.zeros_(self.text_proj.bias)
            if self.language_context == 'clip_image':
                self.clip = clip_model  # frozen image tower for the context
                self.language_proj = nn.Linear(E, E)
                nn.init.zeros_(self.language_proj.weight)
                nn.init.zeros_(self.language_proj.bias)
            else:
                del clip_model
        if visual_context == 'patch_mean':
            self.visual_proj = nn.Linear(D, D)
            nn.init.zeros_(self.visual_proj.weight)
            nn.init.zeros_(self.visual_proj.bias)

    # ------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Load ``init_cfg``'s Pretrained checkpoint into the ViT only (keys ``vit.*``), so
        the MMCST parts (text projection, contexts, CLIP) are not reported missing."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.init_cfg = None
            super().init_weights()
            self.init_cfg = cfg
            load_checkpoint(
                self.vit,
                cfg['checkpoint'],
                map_location='cpu',
                strict=False,
                logger='current',
                revise_keys=[(r'^vit\.', '')])
            print_log(f"MMCSTViT: ViT weights loaded from {cfg['checkpoint']}", logger='current')
        else:
            super().init_weights()

    # ------------------------------------------------------------- contexts
    def _clip_image_embedding(self, img: Tensor) -> Tensor:
        """(B, E) L2-normalised frozen CLIP embedding of the (renormalised, resized) input."""
        from mmwsss.models.foundation import CLIP_MEAN, CLIP_STD
        mean = img.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = img.new_tensor(CLIP_STD).view(1, 3, 1, 1)
        x = (img * self.in_std + self.in_mean - mean) / std
        x = F.interpolate(
            x, size=(self.clip_size, self.clip_size), mode='bilinear', align_corners=False)
        with torch.no_grad():
            return self.clip.encode_image(x, pool='tok', normalize=True).float()

    def text_tokens(self, img: Optional[Tensor] = None) -> Optional[Tensor]:
        """(C, D) projected text tokens, or (B, C, D) with the image-language context of
        ``img``; None without text tokens."""
        if self.token_mode == 'visual':
            return None
        t = self.text_embeds
        if self.language_context == 'clip_image' and img is not None:
            ctx = self.language_proj(self._clip_image_embedding(img))  # (B, E)
            return self.text_proj(t[None] + ctx[:, None])
        return self.text_proj(t)

    # -------------------------------------------------------------- forward
    def forward(self, img: Tensor) -> BackboneOutput:
        """(B, 3, H, W) normalised images -> BackboneOutput (class tokens as documented)."""
        ph, pw = self.patch_size
        if self.crop_to_patch and (img.shape[-2] % ph or img.shape[-1] % pw):
            img = img[..., :img.shape[-2] // ph * ph, :img.shape[-1] // pw * pw]
        param = self.vit.cls_token  # (1, K, D): what timm's _pos_embed put in the rows
        K = param.shape[1]
        visual = param[0, :self.num_fg]
        text = self.text_tokens(img)

        def inject(module, args):
            x = args[0]  # (B, K + N, D): class rows + their position rows, then the patches
            v_ctx = self.visual_proj(x[:, K:].mean(1)) \
                if self.visual_context == 'patch_mean' else None
            rows = class_token_rows(visual, text, self.token_mode, v_ctx)
            rows = rows.expand(x.shape[0], -1, -1)
            # the parameter rows are swapped for the MMCST rows; the position rows stay
            return (torch.cat([x[:, :K] - param + rows, x[:, K:]], 1), ) + tuple(args[1:])

        handle = self.vit.patch_drop.register_forward_pre_hook(inject)
        try:
            return super().forward(img)
        finally:
            handle.remove()
