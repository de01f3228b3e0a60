"""Convert a BCSS-WSSS / LUAD-HistoSeg release into the plain layout mmwsss reads.

Example (BCSS-WSSS, all three splits into one folder)::

    python tools/dataset_converters/histo.py data/BCSS-WSSS data/bcss-wsss-mmwsss \
        --dataset bcss-wsss --split train
    python tools/dataset_converters/histo.py data/BCSS-WSSS data/bcss-wsss-mmwsss \
        --dataset bcss-wsss --split val
    python tools/dataset_converters/histo.py data/BCSS-WSSS data/bcss-wsss-mmwsss \
        --dataset bcss-wsss --split test

The release can also be read directly (``BCSSWSSSDataset`` / ``LUADHistoSegDataset``);
the layout and the checks are documented in ``mmwsss/datasets/converters/histo.py``.
"""
import argparse
import sys

from mmwsss.datasets.converters.histo import convert_histo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='BCSS-WSSS / LUAD-HistoSeg release -> images/, masks/ (mmwsss '
        'indices), splits/, labels.json, classes.txt, meta.json')
    parser.add_argument('src_root', help='release root holding training/ val/ test/')
    parser.add_argument('out_dir', help='output root (shared by all splits)')
    parser.add_argument('--dataset', choices=['bcss-wsss', 'luad-histoseg'], required=True)
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train')
    parser.add_argument(
        '--split-dir',
        default=None,
        help='the split folder, when not named '
        'training/train, val/valid or test')
    parser.add_argument('--link', action='store_true', help='symlink the images')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = convert_histo(
            args.src_root,
            args.out_dir,
            dataset=args.dataset,
            split=args.split,
            split_dir=args.split_dir,
            link=args.link)
    except (ValueError, OSError) as e:
        # the message names the file already
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f"done: {summary['num_images']} patches in split {summary['split']!r}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
