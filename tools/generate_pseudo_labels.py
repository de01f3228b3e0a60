"""Write pseudo labels (one uint8 PNG per image) from a CAM model + refine chain.

A thin CLI over :func:`mmwsss.apis.generate_pseudo_labels` (the same code as the
``PseudoLabelHook`` of a training run).

    python tools/generate_pseudo_labels.py CONFIG [CHECKPOINT] --out-dir DIR

- The model is ``cfg.model``; its ``predict`` returns data samples with ``cams``
  (C, H, W) at the original image size (CAMClassifier, SingleStageWSSS with
  predict_source='cam', training-free CLIP-ES ...). CHECKPOINT is optional for
  training-free models.
- Data: ``cfg.pseudo_label_dataloader`` (else ``cfg.test_dataloader``).
- Refinement: ``cfg.pseudo_label_cfg = dict(refiners=[...], bg_thr=...)`` builds a
  :class:`RefineChain` applied to {img (original RGB), cams, img_labels}.
- Output: DIR/<key>.png (class indices, 255 = ignore), optionally
  DIR/cams/<key>.npz (``keys``: fg class indices, ``cams``: float16 (K, H, W)), and
  one uint8 PNG per entry of ``pseudo_label_cfg.extra_maps = {state key: subfolder}``:
  DIR/<subfolder>/<key>.png from the refine state's (B, H, W) map (BECO's confidence
  mask: ``dict(conf_mask='conf_mask')`` with the ``MarginConfidenceMask`` refiner).
  ``<key>`` is the image's path relative to the dataset's image folder without
  extension (``a/01`` for ``images/a/01.jpg``), so images with the same file name
  in different folders never share an output; two images with the same key
  (``x.jpg`` and ``x.png``) are refused before anything is written.
- Writes are atomic (``.<name>.<id>.tmp`` + fsync + rename, mode from the umask);
  images whose PNG exists (and, with --save-cams, whose npz exists) are skipped,
  so a killed run resumes; the temporary files a killed run left are removed at
  the start. Runs distributed with ``--launcher pytorch``
  (tools/dist_generate_pseudo_labels.sh).
- Checked, each error naming the file: the checkpoint must fit the model exactly
  (missing / unexpected / mismatched keys, NaN weights), images must decode
  cleanly (truncated JPEGs), CAMs must be finite (the message names the image
  and the checkpoint, and says NaN or inf), labels must fit a uint8 PNG.
"""
import argparse
import os

from mmengine.config import DictAction
from mmengine.dist import init_dist

import mmwsss  # noqa: F401  (checkpoint allow-list)
from mmwsss.apis.pseudo_labels import generate_pseudo_labels
from mmwsss.utils.config_utils import load_config
from mmwsss.utils.dist_compat import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate pseudo labels')
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='model checkpoint (omit for training-free models)')
    parser.add_argument('--out-dir', required=True, help='where PNGs are written')
    parser.add_argument(
        '--save-cams', action='store_true', help='also save the (refined) CAM scores as npz')
    parser.add_argument(
        '--no-refine',
        action='store_true',
        help='ignore cfg.pseudo_label_cfg.refiners (raw CAM labels)')
    parser.add_argument(
        '--bg-thr', type=float, default=None, help='override the background threshold')
    parser.add_argument(
        '--overwrite', action='store_true', help='regenerate labels that already exist')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: auto)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--data-root', help='dataset root used by every dataloader of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    if args.launcher != 'none':
        setup_cpu_distributed(cfg)
        init_dist(args.launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    return generate_pseudo_labels(
        cfg,
        args.checkpoint,
        args.out_dir,
        bg_thr=args.bg_thr,
        save_cams=args.save_cams,
        overwrite=args.overwrite,
        device=args.device,
        no_refine=args.no_refine)


if __name__ == '__main__':
    summary = main()
    print(f"[pseudo labels] written {summary['written']}, skipped {summary['skipped']} "
          f"(already done), total {summary['total']}")
