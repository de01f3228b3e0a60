"""A CLIP image/text model built with open_clip_torch, exposing what WSSS needs.

open_clip's own ViT forward returns neither attention maps nor tokens at arbitrary
input sizes. :class:`OpenCLIP` keeps open_clip's modules and weights but adds a manual
forward through the residual blocks (``need_weights=True``, head-averaged attention)
with the positional embedding interpolated bilinearly to the input grid, as CLIP-ES and
WeCLIP do. Weights come from a local file only (see :mod:`.clip_checkpoint`).
"""
import copy
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.freeze import freeze
from .clip_checkpoint import is_torchscript_archive, load_clip_state_dict, load_state_dict_checked

# OpenAI CLIP normalisation, in 0-255 units for mmseg's SegDataPreProcessor.
CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]

# A tiny ViT CLIP of the ViT-B-16 family (same code paths, a few MB) for tests and
# benchmarks of the plumbing. Text side keeps the real vocabulary and context length
# so that open_clip's tokenizer applies unchanged.
TINY_CLIP_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))


def _import_open_clip():
    try:
        import open_clip
    except ImportError as e:  # optional dependency
        raise ImportError('OpenCLIP needs open_clip_torch: pip install '
                          'open_clip_torch (see requirements/optional.txt)') from e
    return open_clip


@MODELS.register_module()
class OpenCLIP(BaseModule):
    """Frozen CLIP (ViT image tower + text tower) with token/attention access.

    Args:
        arch: an open_clip model name (``'ViT-B-16'``) or a config dict with
            ``embed_dim``, ``vision_cfg``, ``text_cfg`` (open_clip's json schema).
        checkpoint: local weights, an OpenAI TorchScript ``.pt`` or an
            (open_clip / OpenAI) state dict. None leaves random weights (tests).
        quick_gelu: use QuickGELU. Must be True for OpenAI weights (open_clip >=
            2.29 builds nn.GELU for 'ViT-B-16' and only warns).
        frozen: set ``requires_grad=False`` on all weights and keep eval mode.
        pos_embed_fp16: round the (interpolated) positional embedding to fp16
            and back, as CLIP-ES's ``upsample_pos_emb`` does on every forward
            (``Parameter(emb.half())``), even when the model runs in float32 on
            CPU. Off by default: it changes refined CAMs by ~1e-3 only; turn it
            on for bit-level comparison with the official code in float32.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'ViT-B-16',
                 checkpoint: Optional[str] = None,
                 quick_gelu: bool = True,
                 frozen: bool = True,
                 pos_embed_fp16: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.pos_embed_fp16 = pos_embed_fp16
        open_clip = _import_open_clip()
        if isinstance(arch, str):
            name = arch[:-len('-quickgelu')] if arch.endswith('-quickgelu') else arch
            cfg = open_clip.get_model_config(name)
            if cfg is None:
                raise KeyError(f"unknown open_clip model '{arch}'")
        else:
            cfg = copy.deepcopy(dict(arch))
        vision = cfg.get('vision_cfg', {})
        if vision.get('timm_model_name') or not isinstance(vision.get('layers'), int) \
                or 'text_cfg' not in cfg or cfg.get('custom_text'):
            raise ValueError(f'OpenCLIP supports plain ViT CLIP configs only, got {arch}')
        cfg = {k: v for k, v in cfg.items() if k in ('embed_dim', 'vision_cfg', 'text_cfg')}
        self.clip = open_clip.model.CLIP(**cfg, quick_gelu=quick_gelu)
        if not self.clip.visual.transformer.resblocks[0].attn.batch_first:
            raise RuntimeError('OpenCLIP expects open_clip >= 2.24 (batch-first blocks)')
        self.arch = arch
        self.checkpoint = checkpoint
        if checkpoint is not None:
            if not quick_gelu and os.path.isfile(checkpoint) and \
                    is_torchscript_archive(checkpoint):
                raise ValueError(f'{checkpoint} holds OpenAI CLIP weights, trained with '
                                 'QuickGELU: build OpenCLIP with quick_gelu=True')
            state = load_clip_state_dict(checkpoint)
            load_state_dict_checked(self.clip, state, checkpoint)
        else:
            print_log(
                f'OpenCLIP({arch}): no checkpoint given, weights are random', logger='current')
        self.frozen = frozen
        if frozen:
            freeze(self.clip)

    def train(self, mode: bool = True) -> 'OpenCLIP':
        super().train(mode)
        if self.frozen:
            self.clip.eval()
        return self

    # ------------------------------------------------------------------ text
    @property
    def patch_size(self) -> int:
        return int(self.clip.visual.patch_size[0])

    @property
    def num_layers(self) -> int:
        return len(self.clip.visual.transformer.resblocks)

    @property
    def logit_scale(self) -> Tensor:
        return self.clip.logit_scale.exp()

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """(N, context_length) token ids, identical to OpenAI's ``clip.tokenize``."""
        from open_clip.tokenizer import tokenize
        return tokenize(list(texts), context_length=self.clip.context_length)

    def encode_text(self, texts: Sequence[str], normalize: bool = True) -> Tensor:
        """(N, E) text embeddings of N strings."""
        device = self.clip.logit_scale.device
        return self.clip.encode_text(self.tokenize(texts).to(device), normalize=normalize)

    def class_embeddings(self, class_names: Sequence[str], templates: Sequence[str]) -> Tensor:
        """(K, E) zero-shot classifier: per class, mean of the L2-normalised template
        embeddings, normalised again (CLIP's ``zeroshot_classifier``)."""
        if not class_names or not templates:
            raise ValueError('class_names and templates must be non-empty')
        texts = [t.format(name) for name in class_names for t in templates]
        emb = self.encode_text(texts, normalize=True)
        emb = emb.view(len(class_names), len(templates), -1).mean(1)
        return F.normalize(emb, dim=-1)

    # ----------------------------------------------------------------- image
    def pos_embed(self, grid: Tuple[int, int]) -> Tensor:
        """(1 + h*w, D) positional embedding, patch part bilinearly resized
        (align_corners=False) from the training grid to ``grid``; CLS row kept.
        With ``pos_embed_fp16`` the whole result (CLS row included, also at the
        training grid) is rounded to fp16 and cast back to the weight dtype."""
        visual = self.clip.visual
        pos = visual.positional_embedding
        gh, gw = visual.grid_size
        if tuple(grid) != (gh, gw):
            patch = pos[1:].reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
            patch = F.interpolate(patch, size=tuple(grid), mode='bilinear', align_corners=False)
            patch = patch.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)
            pos = torch.cat([pos[:1], patch], 0)
        if self.pos_embed_fp16:
            # the official code interpolates in the weight dtype, stores the
            # result as half and casts it back to the activations' dtype
            pos = pos.half().to(visual.positional_embedding.dtype)
        return pos

    def embed_image(self, img: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Patch embedding + CLS + interpolated positions + ln_pre.

        Args:
            img: (B, 3, H, W) CLIP-normalised images; H, W need not be 224.
        Returns:
            tokens (B, 1 + h*w, D) and the patch grid (h, w) = (H // p, W // p).
        """
        visual = self.clip.visual
        x = visual.conv1(img)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], 1) + self.pos_embed(grid).to(x.dtype)
        return visual.ln_pre(x), grid

    @staticmethod
    def block_forward(block: torch.nn.Module,
                      x: Tensor,
                      ln_1_out: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One residual attention block, also returning head-averaged attention.

        Args:
            block: an open_clip ``ResidualAttentionBlock``.
            x: (B, L, D) tokens.
            ln_1_out: optional precomputed ``block.ln_1(x)`` (a leaf for Grad-CAM).
        Returns:
            tokens (B, L, D) and attention (B, L, L).
        """
        y = block.ln_1(x) if ln_1_out is None else ln_1_out
        attn_out, attn = block.attn(y, y, y, need_weights=True, average_attn_weights=True)
        x = x + block.ls_1(attn_out)
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
        return x, attn

    def forward_tokens(
        self,
        img: Tensor,
        num_blocks: Optional[int] = None
    ) -> Dict[str, Union[Tensor, List[Tensor], Tuple[int, int]]]:
        """Run the first ``num_blocks`` blocks (all by default) manually.

        Returns:
            dict with ``tokens`` (B, 1 + h*w, D) after the last block run,
            ``attns`` list of (B, L, L) attention maps (one per block run) and
            ``grid`` (h, w).
        """
        blocks = self.clip.visual.transformer.resblocks
        num_blocks = len(blocks) if num_blocks is None else num_blocks
        x, grid = self.embed_image(img)
        attns = []
        for block in blocks[:num_blocks]:
            x, attn = self.block_forward(block, x)
            attns.append(attn)
        return dict(tokens=x, attns=attns, grid=grid)

    def pool_tokens(self, tokens: Tensor, pool: str = 'avg', normalize: bool = True) -> Tensor:
        """(B, E) image embedding from final tokens (B, 1 + h*w, D).

        ``pool='avg'``: ln_post, mean of the patch tokens (CLIP-ES / WeCLIP);
        ``pool='tok'``: ln_post of the CLS token (open_clip's own ViT-B-16 forward).
        """
        x = self.clip.visual.ln_post(tokens)
        if pool == 'avg':
            x = x[:, 1:].mean(1)
        elif pool == 'tok':
            x = x[:, 0]
        else:
            raise ValueError(f"pool must be 'avg' or 'tok', got '{pool}'")
        x = x @ self.clip.visual.proj
        return F.normalize(x, dim=-1) if normalize else x

    def encode_image(self, img: Tensor, pool: str = 'avg', normalize: bool = True) -> Tensor:
        """(B, E) image embedding of (B, 3, H, W) images at any size."""
        return self.pool_tokens(self.forward_tokens(img)['tokens'], pool, normalize)

    def patch_embeddings(self, tokens: Tensor, grid: Tuple[int, int]) -> Tensor:
        """(B, E, h, w) L2-normalised per-patch embeddings: ln_post + proj of each
        patch token."""
        x = self.clip.visual.ln_post(tokens[:, 1:]) @ self.clip.visual.proj
        x = F.normalize(x, dim=-1)
        return x.transpose(1, 2).reshape(x.shape[0], -1, *grid)

    def patch_text_similarity(self, img: Tensor, text_emb: Tensor) -> Tensor:
        """(B, K, h, w) cosine similarity between each patch and K text embeddings."""
        out = self.forward_tokens(img)
        patches = self.patch_embeddings(out['tokens'], out['grid'])
        return torch.einsum('behw,ke->bkhw', patches, F.normalize(text_emb, dim=-1))

    def forward(self, img: Tensor) -> Tensor:
        return self.encode_image(img)
