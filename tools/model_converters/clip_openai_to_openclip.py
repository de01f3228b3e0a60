"""Convert OpenAI's TorchScript CLIP checkpoint (e.g. ViT-B-16.pt) to an open_clip
state dict, so that ``open_clip.create_model('ViT-B-16-quickgelu', pretrained=OUT)``
(which loads with weights_only=True) can read it too.

    python tools/model_converters/clip_openai_to_openclip.py ViT-B-16.pt \
        checkpoints/clip/ViT-B-16_openclip.pth --arch ViT-B-16

mmwsss's OpenCLIP reads both formats directly; this is for other open_clip users.
The weights stay as stored (fp16 in OpenAI's files) and are written as fp32.
"""
import argparse
import os

import torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='OpenAI TorchScript .pt (or any CLIP state dict)')
    parser.add_argument('dst', help='output .pth (open_clip state dict)')
    parser.add_argument(
        '--arch', default='ViT-B-16', help='open_clip model name used to verify the keys/shapes')
    parser.add_argument('--no-verify', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    from mmwsss.models.foundation.clip_checkpoint import load_clip_state_dict
    state = load_clip_state_dict(args.src)
    if not args.no_verify:
        from mmwsss.models.foundation import OpenCLIP
        from mmwsss.models.foundation.clip_checkpoint import load_state_dict_checked
        model = OpenCLIP(arch=args.arch)
        load_state_dict_checked(model.clip, state, args.src)
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    tmp = args.dst + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')
    return args.dst


if __name__ == '__main__':
    main()
