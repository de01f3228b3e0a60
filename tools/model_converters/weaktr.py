"""Convert a WeakTr checkpoint (hustvl/WeakTr ``checkpoint_best_mIoU.pth``) for SemPLeS.

    python tools/model_converters/weaktr.py \
        WeakTr_results/WeakTr/checkpoint_best_mIoU.pth \
        checkpoints/weaktr/weaktr_deit-s16_voc12_mmwsss.pth

    # COCO: WeakTr has 90 class tokens (the COCO category ids 1..90, 10 of them unused);
    # keep the 80 used ones in this package's order
    python tools/model_converters/weaktr.py \
        WeakTr_results_coco/WeakTr/checkpoint_best_mIoU.pth \
        checkpoints/weaktr/weaktr_deit-s16_coco14_mmwsss.pth --coco90-to-80

The official state dict (``{'model': ...}``) is a timm-layout DeiT-S with C class tokens
(``cls_token`` (1, C, 384), ``pos_embed`` (1, C + 196, 384)), the 3x3 conv ``head.*`` and
the AAF ``adaptive_attention_fusion.*``. The output ``{'state_dict': {...}}`` holds
``backbone.vit.<timm key>`` (for ``AttnOutTokenViT``, ``init_cfg`` prefix ``'backbone.'``)
and ``cam_head.<key>`` (for ``WeakTrHead``, prefix ``'cam_head.'``).
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict

import torch
from torch import Tensor

# 0-based positions of the 10 COCO category ids without annotations (12, 26, 29, 30, 45,
# 66, 68, 69, 71, 83) in a 90-entry per-category-id list
COCO90_UNUSED = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82)
HEAD_PREFIXES = ('head.', 'adaptive_attention_fusion.')


def coco90_keep() -> list:
    """The 80 kept positions of the 90 category-id slots, in category-id order."""
    return [i for i in range(90) if i not in COCO90_UNUSED]


def convert(state: Dict[str, Tensor], coco90_to_80: bool = False) -> Dict[str, Tensor]:
    """WeakTr keys -> ``backbone.vit.*`` / ``cam_head.*`` (see the module doc)."""
    if 'cls_token' not in state or state['cls_token'].dim() != 3:
        raise KeyError('not a WeakTr state dict: no (1, C, D) cls_token')
    num = state['cls_token'].shape[1]
    out: Dict[str, Tensor] = OrderedDict()
    keep = None
    if coco90_to_80:
        if num != 90:
            raise ValueError(f'--coco90-to-80 expects 90 class tokens, the checkpoint has {num}')
        keep = torch.tensor(coco90_keep())
    for key, value in state.items():
        if keep is not None:
            if key == 'cls_token':
                value = value[:, keep]
            elif key == 'pos_embed':
                value = torch.cat([value[:, :num][:, keep], value[:, num:]], 1)
            elif key in ('head.weight', 'head.bias'):
                value = value[keep]
        if key.startswith(HEAD_PREFIXES):
            out['cam_head.' + key] = value
        else:
            out['backbone.vit.' + key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the official WeakTr checkpoint')
    parser.add_argument('dst', help='the converted file')
    parser.add_argument('--coco90-to-80', action='store_true')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'WeakTr checkpoint {args.src} does not exist')
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    state = ckpt.get('model', ckpt) if isinstance(ckpt, dict) else ckpt
    converted = convert(state, args.coco90_to_80)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': dict(source=osp.basename(args.src))}, args.dst)
    print(f'{args.dst}: {len(converted)} tensors')


if __name__ == '__main__':
    main()
