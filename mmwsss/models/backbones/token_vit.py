"""TokenViT: an existing ViT implementation wrapped to return what token-based WSSS needs.

Token methods (ToCo, MCTformer, ...) need more than the last feature map: the class
token, patch tokens of an intermediate block *before* the final norm, attention maps.
Rather than forking a ViT, :class:`TokenViT` builds one from timm, mmpretrain or open_clip,
runs that model's own forward and collects the intermediate tensors with forward hooks
(registered for the duration of one forward only, so deep copies of the module, e.g. an
EMA teacher, never write into this instance's tensors).

Supported ``vit`` configs::

    dict(type='timm', model_name='vit_base_patch16_224', **timm_kwargs)
    dict(type='mmpretrain.VisionTransformer', arch='b', patch_size=16, img_size=224, ...)
    dict(type='open_clip', arch='ViT-B-16', checkpoint=None, quick_gelu=True)

timm models are always built with ``pretrained=False`` (nothing is downloaded, weights come
from ``init_cfg``), ``num_classes=0`` and ``dynamic_img_size=True`` (the position embedding
is resampled to every input size). mmpretrain and open_clip ViTs resample their position
embedding themselves. The kernels differ: timm uses antialiased bicubic (PIL's a=-0.5
kernel, also when upsampling), mmpretrain plain bicubic (a=-0.75), OpenCLIP bilinear; the
same weights therefore give identical features in every wrapper only at the checkpoint's
native grid (elsewhere the patch features agree to a cosine of about 0.99998).

Block indices (``out_blocks``, ``extra_tokens[...]['block']``, ``attn_blocks``) count the
transformer blocks from 0; negative values count from the end (-1 = last block).
"""
import contextlib
import functools
from types import MappingProxyType
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures.backbone_output import BackboneOutput
from ..utils.freeze import freeze

# ToCo's auxiliary tokens: the output of block -3, before the final norm.
TOCO_EXTRA_TOKENS = MappingProxyType({'aux': MappingProxyType({'block': -3, 'norm': False})})

# timm arguments TokenViT fixes: no download ever, no classifier, any input size.
_TIMM_FORCED = dict(pretrained=False, num_classes=0, dynamic_img_size=True)


def _class_pos_rows(cls_pos: Tensor, num: int, drop: int, std: float) -> Tensor:
    """(1, num, D) class-token position rows: ``cls_pos`` (1, 1, D) repeated ``num`` times,
    the first ``drop`` rows replaced by trunc-normal noise (std ``std``, cut at +-2 std).

    MoRe ``mat_vit.py: reload``: the 24 class tokens take the pretrained class-token
    position embedding, the 4 "regularise" tokens a random one (timm ``trunc_normal_``
    with its defaults std 1, bounds +-2).
    """
    rows = cls_pos.repeat(1, num, 1).clone()
    if drop:
        noise = torch.empty(1, drop, cls_pos.shape[-1], dtype=cls_pos.dtype)
        nn.init.trunc_normal_(noise, std=std, a=-2 * std, b=2 * std)
        rows[:, :drop] = noise.to(rows.device)
    return rows


def _expand_pretrained_class_tokens(module: nn.Module, state_dict: dict, prefix: str, *args,
                                    num: int, drop: int, drop_pos_std: float) -> None:
    """Load-state-dict pre-hook of a timm ViT with ``num`` class tokens.

    A checkpoint with ONE class token (a pretrained ViT) is expanded as MoRe's ``reload``
    does: ``cls_token`` (1, 1, D) -> every class token a copy (1, num, D); ``pos_embed``
    (1, 1 + R + N, D) -> class rows by :func:`_class_pos_rows`, then the rest. A checkpoint
    that already has ``num`` class tokens (a trained model) loads unchanged.
    """
    key, pkey = prefix + 'cls_token', prefix + 'pos_embed'
    tok = state_dict.get(key)
    if tok is None or tok.dim() != 3 or tok.shape[1] != 1 or num == 1:
        return
    state_dict[key] = tok.repeat(1, num, 1)
    pos = state_dict.get(pkey)
    if pos is not None and pos.shape[1] == module.pos_embed.shape[1] - num + 1:
        state_dict[pkey] = torch.cat(
            [_class_pos_rows(pos[:, :1], num, drop, drop_pos_std), pos[:, 1:]], 1)


class _TimmViT:
    """How TokenViT drives a ``timm.models.vision_transformer.VisionTransformer``."""

    name = 'timm'

    @staticmethod
    def build(cfg: dict) -> nn.Module:
        try:
            import timm
            from timm.models.vision_transformer import VisionTransformer
        except ImportError as e:  # optional dependency
            raise ImportError("TokenViT(vit=dict(type='timm')) needs timm: pip install timm "
                              '(see requirements/optional.txt)') from e
        cfg = dict(cfg)
        cfg.pop('type')
        model_name = cfg.pop('model_name', None)
        if not model_name:
            raise KeyError("TokenViT: vit=dict(type='timm') needs 'model_name', e.g. "
                           "'vit_base_patch16_224'")
        for key, forced in _TIMM_FORCED.items():
            if key in cfg and cfg[key] != forced:
                raise ValueError(f"TokenViT: vit['{key}']={cfg[key]!r} is not supported, "
                                 f'TokenViT always uses {key}={forced!r} (weights come from '
                                 "init_cfg=dict(type='Pretrained', checkpoint=...))")
            cfg[key] = forced
        model = timm.create_model(model_name, **cfg)
        if not isinstance(model, VisionTransformer):
            raise TypeError(f"TokenViT: timm model '{model_name}' is a "
                            f'{type(model).__name__}, expected a timm VisionTransformer')
        return model

    @staticmethod
    def set_class_tokens(vit: nn.Module, num: int, drop: int, drop_pos_std: float) -> None:
        """Replace timm's single class token by ``num`` class tokens (MoRe's MATformer).

        ``cls_token`` becomes (1, num, D) (trunc-normal std 0.02 as MoRe's MATformer inits
        it) and ``pos_embed`` gets ``num`` class rows: the existing class row repeated,
        except the first ``drop`` rows (random, trunc-normal ``drop_pos_std``). timm's own
        ``_pos_embed`` then concatenates all of them and resamples only the patch rows,
        because ``num_prefix_tokens`` counts them.
        """
        if getattr(vit, 'cls_token', None) is None or getattr(vit, 'no_embed_class', False):
            raise ValueError('TokenViT: class_tokens needs a timm ViT with a class token whose '
                             'position embedding has a class row (no_embed_class=False)')
        dim = int(vit.embed_dim)
        tokens = torch.zeros(1, num, dim)
        nn.init.trunc_normal_(tokens, std=.02)
        vit.cls_token = nn.Parameter(tokens)
        with torch.no_grad():
            pos = vit.pos_embed.detach()
            vit.pos_embed = nn.Parameter(
                torch.cat([_class_pos_rows(pos[:, :1], num, drop, drop_pos_std), pos[:, 1:]], 1))
        vit.num_prefix_tokens = int(vit.num_prefix_tokens) + num - 1

    @staticmethod
    def blocks(vit: nn.Module) -> Sequence[nn.Module]:
        return vit.blocks

    @staticmethod
    def final_norm(vit: nn.Module) -> nn.Module:
        return vit.norm

    @staticmethod
    def patch_size(vit: nn.Module) -> Tuple[int, int]:
        """Input pixels per token: a hybrid (CNN stem + ViT, e.g. ACR's
        ``vit_base_r50_s16_384``) patchifies the stem's map with patch (1, 1),
        so its stride is the stem's ``feature_ratio`` times the patch."""
        pe = vit.patch_embed
        ratio = getattr(pe, 'feature_ratio', (1, 1))
        ratio = (ratio, ratio) if isinstance(ratio, int) else ratio
        return tuple(int(p) * int(r) for p, r in zip(pe.patch_size, ratio))

    @staticmethod
    def num_prefix_tokens(vit: nn.Module) -> int:
        return int(vit.num_prefix_tokens)

    @staticmethod
    def embed_dims(vit: nn.Module) -> int:
        return int(vit.embed_dim)

    @staticmethod
    def run(vit: nn.Module, img: Tensor) -> None:
        # patch embed, (resampled) pos embed, every block, final norm; hooks keep the rest
        vit.forward_features(img)

    @staticmethod
    def qkv_module(block: nn.Module) -> nn.Module:
        if not isinstance(getattr(block.attn, 'qkv', None), nn.Linear):
            raise TypeError('TokenViT: attention maps need a fused qkv nn.Linear, but this '
                            f'timm block has {type(block.attn).__name__} without one')
        return block.attn.qkv

    @staticmethod
    def qkv(block: nn.Module, hooked: Tensor) -> Tensor:
        return hooked

    @staticmethod
    def heads_and_scale(block: nn.Module) -> Tuple[int, float]:
        return int(block.attn.num_heads), float(block.attn.scale)

    @staticmethod
    def qk_norm(block: nn.Module, q: Tensor, k: Tensor) -> Tuple[Tensor, Tensor]:
        # timm ViTs with qk_norm=True normalise q and k per head before the product
        return block.attn.q_norm(q), block.attn.k_norm(k)


class _MMPretrainViT:
    """How TokenViT drives an mmpretrain ``VisionTransformer`` (ViT, DeiT, ...)."""

    name = 'mmpretrain'

    @staticmethod
    def build(cfg: dict) -> nn.Module:
        try:
            # importing the backbone also imports mmpretrain.models (fills its registry)
            from mmpretrain.models.backbones import VisionTransformer
        except ImportError as e:
            raise ImportError("TokenViT(vit=dict(type='mmpretrain.VisionTransformer')) needs "
                              'mmpretrain (requirements/mminstall.txt)') from e
        cfg = dict(cfg)
        # the model's own outputs are discarded; 'raw' avoids building an unused ln2
        cfg.setdefault('out_type', 'raw')
        # built with _scope_='mmpretrain' so that everything it builds inside (norm layers,
        # ...) resolves in mmpretrain's registry whatever the caller's default scope is
        cfg['type'] = cfg['type'].split('.', 1)[1]
        cfg['_scope_'] = 'mmpretrain'
        model = MODELS.build(cfg)
        if not isinstance(model, VisionTransformer):
            raise TypeError(f"TokenViT: mmpretrain '{cfg['type']}' is a "
                            f'{type(model).__name__}, expected a VisionTransformer subclass')
        proj = model.patch_embed.projection
        if tuple(proj.kernel_size) != tuple(proj.stride):
            raise ValueError('TokenViT: overlapping patch embeddings (kernel '
                             f'{tuple(proj.kernel_size)} != stride {tuple(proj.stride)}) '
                             'are not supported')
        return model

    @staticmethod
    def blocks(vit: nn.Module) -> Sequence[nn.Module]:
        return vit.layers

    @staticmethod
    def final_norm(vit: nn.Module) -> nn.Module:
        # mmpretrain applies ln1 after the last layer (inside its loop, so the hooked
        # layer outputs are pre-norm like timm's)
        return vit.ln1 if vit.final_norm else nn.Identity()

    @staticmethod
    def patch_size(vit: nn.Module) -> Tuple[int, int]:
        return tuple(int(s) for s in vit.patch_embed.projection.stride)

    @staticmethod
    def num_prefix_tokens(vit: nn.Module) -> int:
        return int(vit.num_extra_tokens)

    @staticmethod
    def embed_dims(vit: nn.Module) -> int:
        return int(vit.embed_dims)

    @staticmethod
    def run(vit: nn.Module, img: Tensor) -> None:
        vit(img)

    @staticmethod
    def qkv_module(block: nn.Module) -> nn.Module:
        if not isinstance(getattr(block.attn, 'qkv', None), nn.Linear):
            raise TypeError('TokenViT: attention maps need a fused qkv nn.Linear, but this '
                            f'mmpretrain layer has {type(block.attn).__name__} without one')
        return block.attn.qkv

    @staticmethod
    def qkv(block: nn.Module, hooked: Tensor) -> Tensor:
        return hooked

    @staticmethod
    def heads_and_scale(block: nn.Module) -> Tuple[int, float]:
        # mmpretrain's MultiheadAttention scales by head_dims ** -0.5 (torch's sdpa default)
        return int(block.attn.num_heads), float(block.attn.head_dims)**-0.5

    @staticmethod
    def qk_norm(block: nn.Module, q: Tensor, k: Tensor) -> Tuple[Tensor, Tensor]:
        return q, k


class _OpenCLIPViT:
    """How TokenViT drives the image tower of :class:`mmwsss.models.foundation.OpenCLIP`."""

    name = 'open_clip'

    @staticmethod
    def build(cfg: dict) -> nn.Module:
        from mmwsss.models.foundation import OpenCLIP
        cfg = dict(cfg)
        cfg.pop('type')
        if 'frozen' in cfg:
            raise KeyError("TokenViT: vit=dict(type='open_clip') takes no 'frozen'; use "
                           'TokenViT(frozen=...)')
        model = OpenCLIP(**cfg, frozen=False)
        # the text tower is never used by a backbone: keep it out of the optimiser (and
        # out of DDP's unused-parameter check)
        model.clip.requires_grad_(False)
        model.clip.visual.requires_grad_(True)
        return model

    @staticmethod
    def blocks(vit: nn.Module) -> Sequence[nn.Module]:
        return vit.clip.visual.transformer.resblocks

    @staticmethod
    def final_norm(vit: nn.Module) -> nn.Module:
        return vit.clip.visual.ln_post

    @staticmethod
    def patch_size(vit: nn.Module) -> Tuple[int, int]:
        return tuple(int(p) for p in vit.clip.visual.patch_size)

    @staticmethod
    def num_prefix_tokens(vit: nn.Module) -> int:
        return 1

    @staticmethod
    def embed_dims(vit: nn.Module) -> int:
        return int(vit.clip.visual.transformer.width)

    @staticmethod
    def run(vit: nn.Module, img: Tensor) -> None:
        # OpenCLIP.embed_image resizes the position embedding to the input's grid, which
        # open_clip's own visual.forward does not; the blocks then run as in open_clip
        x, _ = vit.embed_image(img)
        for block in vit.clip.visual.transformer.resblocks:
            x = block(x)

    @staticmethod
    def qkv_module(block: nn.Module) -> nn.Module:
        # nn.MultiheadAttention has no qkv sub-module: hook its input (ln_1's output)
        return block.ln_1

    @staticmethod
    def qkv(block: nn.Module, hooked: Tensor) -> Tensor:
        return F.linear(hooked, block.attn.in_proj_weight, block.attn.in_proj_bias)

    @staticmethod
    def heads_and_scale(block: nn.Module) -> Tuple[int, float]:
        heads = int(block.attn.num_heads)
        return heads, float(block.attn.embed_dim // heads)**-0.5

    @staticmethod
    def qk_norm(block: nn.Module, q: Tensor, k: Tensor) -> Tuple[Tensor, Tensor]:
        return q, k


_ADAPTERS = {'timm': _TimmViT, 'open_clip': _OpenCLIPViT}


def _adapter_for(vit_type: str):
    if vit_type in _ADAPTERS:
        return _ADAPTERS[vit_type]
    if vit_type.startswith('mmpretrain.'):
        return _MMPretrainViT
    raise KeyError(f"TokenViT: unknown vit type '{vit_type}'; expected 'timm', "
                   "'mmpretrain.VisionTransformer' (or another mmpretrain ViT) or 'open_clip'")


@MODELS.register_module()
class TokenViT(BaseModule):
    """A wrapped ViT returning feature maps, class tokens, extra token maps and attention.

    Args:
        vit: how to build the ViT (see the module docstring); ``type`` is one of
            ``'timm'``, ``'mmpretrain.<ViT class>'``, ``'open_clip'``.
        out_blocks: blocks whose patch tokens become the output feature maps
            (B, D, h, w), in this order.
        out_norm: apply the ViT's final norm to the ``out_blocks`` tokens (and to the
            class tokens). ToCo's main tokens are post-norm.
        extra_tokens: named patch-token maps, ``{name: dict(block=int, norm=bool)}``;
            the default is ToCo's ``aux`` = block -3 before the final norm. ``{}`` for none.
        with_cls_token: also return the prefix tokens (B, K, D) of the deepest out block
            (K = class token + register tokens), normalised as ``out_norm`` says.
        attn_blocks: blocks whose attention maps (B, heads, N, N), N = K + h*w, are
            returned, computed as softmax(q k^T * scale) from the block's qkv projection
            (timm and mmpretrain use fused attention kernels that never form the map).
        frozen: ``requires_grad=False`` on every ViT weight and eval mode (no dropout /
            drop-path) whatever ``train()`` is called with.
        class_tokens: ``dict(num, drop=0, drop_pos_std=1.0)`` (timm ViTs only): replace the
            single class token by ``num`` class tokens (MoRe: 24 = 4 + 20 classes; COCO 84)
            whose position rows come from the pretrained class row; a pretrained checkpoint
            with one class token is expanded on loading (every class token a copy of it).
            The first ``drop`` tokens ("regularise" tokens, random position rows) take
            part in the attention but are dropped from ``cls_tokens``, which is then
            (B, num - drop (+ registers), D). ``attns`` keep all N = num (+ registers) +
            h*w tokens. None: the ViT's own prefix tokens.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint='checkpoints/....pth')`` with
            keys ``vit.<the wrapped model's keys>`` (tools/model_converters/vit_timm.py,
            tools/model_converters/dinov2_onnx.py write such files).

    Input: (B, 3, H, W) with H and W multiples of the patch size.
    Output: :class:`BackboneOutput` (feats = one (B, D, H/p, W/p) map per out block).
    """

    def __init__(self,
                 vit: dict,
                 out_blocks: Sequence[int] = (-1, ),
                 out_norm: bool = True,
                 extra_tokens: Optional[Mapping[str, Mapping]] = TOCO_EXTRA_TOKENS,
                 with_cls_token: bool = True,
                 attn_blocks: Sequence[int] = (),
                 frozen: bool = False,
                 class_tokens: Optional[Mapping] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not isinstance(vit, Mapping) or 'type' not in vit:
            raise KeyError("TokenViT: 'vit' must be a dict with a 'type' ('timm', "
                           f"'mmpretrain.VisionTransformer', 'open_clip'), got {vit!r}")
        self._adapter = _adapter_for(str(vit['type']))
        self.vit = self._adapter.build(dict(vit))
        self.vit_type = self._adapter.name
        depth = len(self._adapter.blocks(self.vit))

        if isinstance(out_blocks, int):
            out_blocks = (out_blocks, )
        if len(out_blocks) == 0:
            raise ValueError('TokenViT: out_blocks must name at least one block')
        self.out_blocks = [
            self._block_index(b, depth, f'out_blocks[{i}]') for i, b in enumerate(out_blocks)
        ]
        self.out_norm = bool(out_norm)

        self.extra_tokens: Dict[str, Tuple[int, bool]] = {}
        for name, spec in dict(extra_tokens or {}).items():
            if not isinstance(spec, Mapping) or 'block' not in spec or \
                    set(spec) - {'block', 'norm'}:
                shown = dict(spec) if isinstance(spec, Mapping) else spec
                raise KeyError(f"TokenViT: extra_tokens['{name}'] must be "
                               f'dict(block=int, norm=bool), got {shown!r}')
            block = self._block_index(spec['block'], depth, f"extra_tokens['{name}']['block']")
            self.extra_tokens[str(name)] = (block, bool(spec.get('norm', False)))

        if isinstance(attn_blocks, int):
            attn_blocks = (attn_blocks, )
        self.attn_blocks = sorted(
            {self._block_index(b, depth, f'attn_blocks[{i}]')
             for i, b in enumerate(attn_blocks)})

        self.num_dropped_tokens = 0
        if class_tokens is not None:
            self._set_class_tokens(dict(class_tokens))

        self.with_cls_token = bool(with_cls_token)
        if self.with_cls_token and self.num_prefix_tokens == 0:
            raise ValueError('TokenViT: with_cls_token=True but the ViT has no class/prefix '
                             'token; set with_cls_token=False')

        self.frozen = bool(frozen)
        if self.frozen:
            freeze(self.vit)

    def _set_class_tokens(self, spec: dict) -> None:
        unknown = sorted(set(spec) - {'num', 'drop', 'drop_pos_std'})
        if unknown or 'num' not in spec:
            raise KeyError('TokenViT: class_tokens must be dict(num=int, drop=int, '
                           f'drop_pos_std=float), got {spec!r}')
        num, drop = spec['num'], spec.get('drop', 0)
        std = float(spec.get('drop_pos_std', 1.0))
        if isinstance(num, bool) or not isinstance(num, int) or num < 1 or \
                isinstance(drop, bool) or not isinstance(drop, int) or not 0 <= drop < num:
            raise ValueError(f'TokenViT: class_tokens needs ints num >= 1 and 0 <= drop < num, '
                             f'got num={num!r}, drop={drop!r}')
        setter = getattr(self._adapter, 'set_class_tokens', None)
        if setter is None:
            raise NotImplementedError(f"TokenViT: class_tokens is implemented for timm ViTs, "
                                      f"not for vit type '{self.vit_type}'")
        setter(self.vit, num, drop, std)
        self.num_dropped_tokens = drop
        self.vit._register_load_state_dict_pre_hook(
            functools.partial(
                _expand_pretrained_class_tokens, num=num, drop=drop, drop_pos_std=std),
            with_module=True)

    # ------------------------------------------------------------------ info
    @staticmethod
    def _block_index(index, depth: int, what: str) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f'TokenViT: {what} must be an int block index, got {index!r}')
        if not -depth <= index < depth:
            raise IndexError(f'TokenViT: {what}={index} is out of range for a {depth}-block '
                             f'ViT (valid {-depth}..{depth - 1})')
        return index % depth

    @property
    def patch_size(self) -> Tuple[int, int]:
        """(ph, pw) of the patch embedding."""
        return self._adapter.patch_size(self.vit)

    @property
    def num_prefix_tokens(self) -> int:
        """K: class + register tokens in front of the patch tokens."""
        return self._adapter.num_prefix_tokens(self.vit)

    @property
    def embed_dims(self) -> int:
        """D, the token width (channels of every output map)."""
        return self._adapter.embed_dims(self.vit)

    @property
    def num_blocks(self) -> int:
        return len(self._adapter.blocks(self.vit))

    def train(self, mode: bool = True) -> 'TokenViT':
        super().train(mode)
        if self.frozen:
            self.vit.eval()
        return self

    # --------------------------------------------------------------- forward
    @contextlib.contextmanager
    def _hooks(self, token_blocks: Sequence[int],
               attn_blocks: Sequence[int]) -> Iterator[Tuple[Dict[int, Tensor], Dict[int, Tensor]]]:
        """Collect block outputs (B, N, D) and qkv-module outputs for one forward."""
        blocks = self._adapter.blocks(self.vit)
        block_out: Dict[int, Tensor] = {}
        qkv_out: Dict[int, Tensor] = {}

        def store(cache: Dict[int, Tensor], idx: int) -> Callable:

            def hook(module: nn.Module, args, output) -> None:
                if not isinstance(output, Tensor):
                    raise TypeError(f'TokenViT: block {idx} ({type(module).__name__}) '
                                    f'returned {type(output).__name__}, expected a Tensor')
                cache[idx] = output

            return hook

        handles = []
        try:
            for i in token_blocks:
                handles.append(blocks[i].register_forward_hook(store(block_out, i)))
            for i in attn_blocks:
                module = self._adapter.qkv_module(blocks[i])
                handles.append(module.register_forward_hook(store(qkv_out, i)))
            yield block_out, qkv_out
        finally:
            for h in handles:
                h.remove()

    def _attention(self, index: int, hooked: Tensor) -> Tensor:
        """(B, heads, N, N) = softmax(q k^T * scale) from a block's qkv projection."""
        block = self._adapter.blocks(self.vit)[index]
        qkv = self._adapter.qkv(block, hooked)  # (B, N, 3 * heads * head_dim)
        heads, scale = self._adapter.heads_and_scale(block)
        B, N, C = qkv.shape
        qkv = qkv.reshape(B, N, 3, heads, C // (3 * heads)).permute(2, 0, 3, 1, 4)
        q, k = self._adapter.qk_norm(block, qkv[0], qkv[1])
        return ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)

    def _to_map(self, tokens: Tensor, grid: Tuple[int, int]) -> Tensor:
        """(B, K + h*w, D) tokens -> (B, D, h, w) patch map."""
        patches = tokens[:, self.num_prefix_tokens:]
        B, _, D = patches.shape
        return patches.transpose(1, 2).reshape(B, D, grid[0], grid[1])

    def forward(self, img: Tensor) -> BackboneOutput:
        """(B, 3, H, W) -> BackboneOutput; H, W multiples of the patch size."""
        if not isinstance(img, Tensor) or img.dim() != 4:
            raise ValueError('TokenViT expects a (B, C, H, W) tensor, got '
                             f'{getattr(img, "shape", type(img).__name__)}')
        H, W = img.shape[-2:]
        ph, pw = self.patch_size
        if H % ph or W % pw:
            raise ValueError(f'TokenViT: input size {H}x{W} (HxW) is not a multiple of the '
                             f'patch size {ph}x{pw}; resize or pad the input (e.g. mmseg '
                             f'SegDataPreProcessor(size_divisor={max(ph, pw)}))')
        grid = (H // ph, W // pw)
        need = set(self.out_blocks) | {b for b, _ in self.extra_tokens.values()}
        with self._hooks(sorted(need), self.attn_blocks) as (block_out, qkv_out):
            self._adapter.run(self.vit, img)

        K = self.num_prefix_tokens
        for idx, tokens in block_out.items():
            if tokens.dim() != 3 or tokens.shape[1] != K + grid[0] * grid[1]:
                raise RuntimeError(f'TokenViT: block {idx} gave tokens {tuple(tokens.shape)}, '
                                   f'expected (B, {K} + {grid[0]}*{grid[1]}, D) for a '
                                   f'{H}x{W} input')
        norm = self._adapter.final_norm(self.vit)
        normed: Dict[int, Tensor] = {}

        def tokens_of(idx: int, apply_norm: bool) -> Tensor:
            if not apply_norm:
                return block_out[idx]
            if idx not in normed:  # shared by feats, cls tokens and extra maps
                normed[idx] = norm(block_out[idx])
            return normed[idx]

        feats: List[Tensor] = [
            self._to_map(tokens_of(b, self.out_norm), grid) for b in self.out_blocks
        ]
        # MoRe's regularise tokens (the first num_dropped_tokens) are not returned
        cls_tokens = tokens_of(max(self.out_blocks), self.out_norm)[:, self.num_dropped_tokens:K] \
            if self.with_cls_token else None
        extra = {
            name: self._to_map(tokens_of(b, n), grid)
            for name, (b, n) in self.extra_tokens.items()
        }
        attns = {i: self._attention(i, qkv_out[i]) for i in self.attn_blocks}
        return BackboneOutput(feats, cls_tokens=cls_tokens, tokens=extra, attns=attns, grid=grid)
