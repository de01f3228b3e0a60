"""Convert a COCO instances JSON into the VOC-style layout that mmwsss reads.

Example (coco-mini, VOC label space, both splits into one folder)::

    python tools/dataset_converters/coco.py \
        /work/shared/data/coco-mini/annotations/instances_train2017.json \
        /work/shared/data/coco-mini/train2017 data/coco-mini-voc --label-space voc
    python tools/dataset_converters/coco.py \
        /work/shared/data/coco-mini/annotations/instances_val2017.json \
        /work/shared/data/coco-mini/val2017 data/coco-mini-voc --label-space voc

The layout and the drawing rules are documented in
``mmwsss/datasets/converters/coco.py`` and docs/en/user_guides/dataset_prepare.md.
"""
import argparse
import sys

from mmwsss.datasets.converters.coco import convert_coco


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO instances JSON -> VOC-style WSSS layout (images, palette PNG '
        'masks, split list, cls_labels.json, meta.json)')
    parser.add_argument('ann_json', help='COCO instances JSON, e.g. instances_train2017.json')
    parser.add_argument('img_dir', help='folder holding the images named in the JSON')
    parser.add_argument('out_dir', help='output root (shared by all splits)')
    parser.add_argument(
        '--label-space',
        choices=['voc', 'coco'],
        default='voc',
        help="'voc': 20 VOC classes + background (other COCO categories "
        "are background); 'coco': 80 classes + background")
    parser.add_argument(
        '--split',
        default=None,
        help='split name (default: from the JSON name, '
        'instances_train2017 -> train)')
    parser.add_argument(
        '--link', action='store_true', help='symlink the images instead of copying them')
    parser.add_argument(
        '--keep-unlabelled',
        action='store_true',
        help='keep images without any class of the label space in the '
        'split list (default: leave them out and list them)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = convert_coco(
            args.ann_json,
            args.img_dir,
            args.out_dir,
            label_space=args.label_space,
            split=args.split,
            link=args.link,
            keep_unlabelled=args.keep_unlabelled)
    except (ValueError, OSError) as e:
        # bad input: the message names the file and the image / annotation id already
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f"done: {summary['num_images']} images in split {summary['split']!r}, "
          f"{summary['num_unlabelled']} left out (no {args.label_space} class)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
