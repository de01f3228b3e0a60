"""Convert a timm-style ViT checkpoint to TokenViT keys (timm or mmpretrain wrapper).

    # ToCo's ViT-B/16 (timm 'jx_vit_base_p16_224', IN-21k pre-trained) for the timm wrapper
    python tools/model_converters/vit_timm.py jx_vit_base_p16_224-80ecf9dd.pth \
        checkpoints/vit-b16_jx_timm_mmwsss.pth --wrapper timm --model-name vit_base_patch16_224

    # the same weights (or DeiT-B) for the mmpretrain wrapper
    python tools/model_converters/vit_timm.py deit_base_patch16_224-b5f2ef4d.pth \
        checkpoints/deit-b16_mmpretrain_mmwsss.pth --wrapper mmpretrain --arch b

    # JAX .npz checkpoints go through timm's own npz loader first (needs --model-name)
    python tools/model_converters/vit_timm.py B_16-i21k-300ep-lr_0.001-aug_medium1.npz \
        checkpoints/vit-b16_augreg_mmwsss.pth --wrapper timm --model-name vit_base_patch16_224

The output ``{'state_dict': {'vit.<key>': tensor}, 'meta': {...}}`` loads with
``TokenViT(vit=..., init_cfg=dict(type='Pretrained', checkpoint=DST))`` with no missing or
unexpected keys; the converter checks that (strictly, through mmengine's loader) before it
returns. The classifier (``head.*``, ``pre_logits.*``, ``head_dist.*``) is dropped.
``--vit '{"type": ..., ...}'`` (JSON) gives the exact TokenViT ``vit`` config when the
defaults derived from the flags do not fit (e.g. a custom mmpretrain arch dict).
"""
import argparse
import json
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

# Keys of a timm ViT that TokenViT never builds (num_classes=0): the classifier.
DROPPED_PREFIXES = ('head.', 'pre_logits.', 'head_dist.')

# timm name -> mmpretrain VisionTransformer name (mmpretrain 1.2.0 module names:
# TransformerEncoderLayer.{ln1, attn.qkv, attn.proj, attn.gamma1, ln2, ffn.layers.0.0,
# ffn.layers.1, ffn.gamma2}; PatchEmbed.projection; final norm ln1; CLIP-style pre_norm).
_TIMM_TO_MMPRETRAIN: List[Tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in [
    (r'^cls_token$', 'cls_token'),
    (r'^dist_token$', 'dist_token'),
    (r'^pos_embed$', 'pos_embed'),
    (r'^patch_embed\.proj\.(weight|bias)$', r'patch_embed.projection.\1'),
    (r'^norm_pre\.(weight|bias)$', r'pre_norm.\1'),
    (r'^blocks\.(\d+)\.norm1\.(weight|bias)$', r'layers.\1.ln1.\2'),
    (r'^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$', r'layers.\1.attn.qkv.\2'),
    (r'^blocks\.(\d+)\.attn\.proj\.(weight|bias)$', r'layers.\1.attn.proj.\2'),
    (r'^blocks\.(\d+)\.ls1\.gamma$', r'layers.\1.attn.gamma1.weight'),
    (r'^blocks\.(\d+)\.norm2\.(weight|bias)$', r'layers.\1.ln2.\2'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.(weight|bias)$', r'layers.\1.ffn.layers.0.0.\2'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.(weight|bias)$', r'layers.\1.ffn.layers.1.\2'),
    (r'^blocks\.(\d+)\.ls2\.gamma$', r'layers.\1.ffn.gamma2.weight'),
    (r'^norm\.(weight|bias)$', r'ln1.\1'),
]]


def load_timm_state_dict(path: str, model_name: Optional[str] = None) -> Dict[str, Tensor]:
    """A timm ViT state dict from a .pth/.pt/.bin (plain tensors) or a JAX .npz file.

    .npz files are read by timm's own loader into ``timm.create_model(model_name)``, so
    ``model_name`` is required for them. Wrappers (``'model'``, ``'state_dict'``) and a
    ``module.`` prefix are removed.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'source checkpoint not found: {path}')
    if path.endswith('.npz'):
        if not model_name:
            raise ValueError(f'{path} is a JAX .npz checkpoint: pass --model-name (the timm '
                             'architecture to read it into, e.g. vit_base_patch16_224)')
        import timm
        model = timm.create_model(model_name, pretrained=False, num_classes=0)
        model.load_pretrained(path)  # timm's npz reader (handles the JAX layouts)
        return dict(model.state_dict())
    state = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper in ('model', 'state_dict'):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise TypeError(f'{path}: expected a state dict of tensors (optionally under '
                        "'model' or 'state_dict')")
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def timm_to_mmpretrain(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename timm ViT keys to mmpretrain VisionTransformer keys (classifier dropped).

    Raises KeyError naming every key without an mmpretrain counterpart (e.g. q/k norms,
    fc_norm of an avg-pool ViT).
    """
    out, unmapped = OrderedDict(), []
    for key, value in state.items():
        if key.startswith(DROPPED_PREFIXES):
            continue
        for pattern, repl in _TIMM_TO_MMPRETRAIN:
            if pattern.match(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            unmapped.append(key)
    if unmapped:
        raise KeyError(f'no mmpretrain VisionTransformer counterpart for timm keys {unmapped}')
    return out


def default_vit_cfg(state: Dict[str, Tensor], wrapper: str, model_name: Optional[str], arch: str,
                    patch_size: Optional[int], img_size: Optional[int]) -> dict:
    """TokenViT ``vit`` config matching a timm state dict, from the CLI flags."""
    if wrapper == 'timm':
        if not model_name:
            raise ValueError('--wrapper timm needs --model-name (e.g. vit_base_patch16_224)')
        cfg = dict(type='timm', model_name=model_name)
        if img_size:
            cfg['img_size'] = img_size
        return cfg
    if wrapper != 'mmpretrain':
        raise ValueError(f"--wrapper must be 'timm' or 'mmpretrain', got {wrapper!r}")
    proj = state.get('patch_embed.proj.weight')
    if proj is None:
        raise KeyError('source has no patch_embed.proj.weight: not a timm ViT state dict')
    patch = patch_size or int(proj.shape[-1])
    num_patches = state['pos_embed'].shape[1] - (1 if 'cls_token' in state else 0) - \
        (1 if 'dist_token' in state else 0)
    native = int(round(num_patches**0.5)) * patch
    cfg = dict(
        type='mmpretrain.VisionTransformer',
        arch=arch,
        patch_size=patch,
        img_size=img_size or native,
        qkv_bias='blocks.0.attn.qkv.bias' in state,
        final_norm='norm.weight' in state,
        pre_norm='norm_pre.weight' in state)
    if 'blocks.0.ls1.gamma' in state:
        cfg['layer_scale_init_value'] = 1e-5  # any value > 0 builds the gamma parameters
    if 'dist_token' in state:
        cfg['type'] = 'mmpretrain.DistilledVisionTransformer'
    if 'cls_token' not in state:
        cfg['with_cls_token'] = False
    return cfg


def convert_timm_vit(state: Dict[str, Tensor],
                     vit: dict,
                     source: str = '<state dict>') -> 'OrderedDict[str, Tensor]':
    """timm ViT state dict -> TokenViT(vit=vit) state dict (keys ``vit.*``), verified.

    The result is checked against a freshly built TokenViT: any missing or unexpected
    key or shape mismatch raises RuntimeError naming ``source`` and the keys.
    """
    from mmwsss.models.backbones import TokenViT
    from mmwsss.models.foundation import load_state_dict_checked
    vit_type = str(vit.get('type', ''))
    if vit_type == 'timm':
        inner = {k: v for k, v in state.items() if not k.startswith(DROPPED_PREFIXES)}
    elif vit_type.startswith('mmpretrain.'):
        inner = timm_to_mmpretrain(state)
    else:
        raise ValueError(f"vit type must be 'timm' or 'mmpretrain.*', got {vit_type!r}")
    out = OrderedDict((f'vit.{k}', v.detach().clone().contiguous()) for k, v in inner.items())
    model = TokenViT(vit=vit, extra_tokens={})
    load_state_dict_checked(model, out, source)
    return out


def verify_checkpoint(path: str, vit: dict) -> None:
    """Reload ``path`` the way init_cfg=Pretrained does (mmengine), but strictly."""
    from mmengine.runner import load_checkpoint

    from mmwsss.models.backbones import TokenViT
    torch.load(path, map_location='cpu', weights_only=True)  # plain tensors only
    load_checkpoint(TokenViT(vit=vit, extra_tokens={}), path, map_location='cpu', strict=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='timm ViT checkpoint -> TokenViT keys')
    parser.add_argument('src', help='timm ViT checkpoint (.pth/.pt/.bin or JAX .npz)')
    parser.add_argument('dst', help='output .pth (mmengine checkpoint)')
    parser.add_argument('--wrapper', choices=('timm', 'mmpretrain'), default='timm')
    parser.add_argument('--model-name', help='timm model name (timm wrapper, .npz input)')
    parser.add_argument('--arch', default='b', help="mmpretrain arch (default 'b')")
    parser.add_argument('--patch-size', type=int, help='default: from the weights')
    parser.add_argument(
        '--img-size', type=int, help="default: timm's default / the checkpoint's native size")
    parser.add_argument(
        '--vit',
        type=json.loads,
        help='exact TokenViT vit config as JSON (overrides the flags above)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from mmwsss.utils.pretrained import save_atomic
    args = parse_args(argv)
    state = load_timm_state_dict(args.src, args.model_name)
    vit = args.vit or default_vit_cfg(state, args.wrapper, args.model_name, args.arch,
                                      args.patch_size, args.img_size)
    converted = convert_timm_vit(state, vit, args.src)
    dropped = sorted(k for k in state if k.startswith(DROPPED_PREFIXES))
    meta = dict(
        source=osp.abspath(args.src), model='TokenViT', vit=json.dumps(vit), dropped=dropped)
    save_atomic(dict(state_dict=converted, meta=meta), args.dst)
    verify_checkpoint(args.dst, vit)
    print(f'[vit_timm] {len(converted)} tensors -> {args.dst} (vit={json.dumps(vit)}; '
          f'dropped {len(dropped)} classifier tensors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
