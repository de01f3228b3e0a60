"""Time and memory of DenseEnergyLoss: permutohedral lattice vs the exact O(N^2) sum.

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_dense_energy.py \\
        [--sizes 448 128] [--batch 2] [--classes 21] [--repeat 3] \\
        [--dense-max-size 448] [--device cpu|cuda] [--json out.json] [--no-isolate]

One case per size S: ``--batch`` coco-mini photos resized to S x S (synthetic
colour regions if the set is missing), probabilities = softmax of smooth random
logits over ``--classes`` classes, ToCo-like labels (argmax, 255 where the top
probability is below 0.7) and ROIs (image 0 has a 10 % zero-padding border,
like a crop of a smaller image). The loss runs with ToCo's settings (sigma_rgb 15,
sigma_xy 100, scale_factor 0.5), so S = 448 filters 224 x 224 = 50176 pixels.

Measured for each filter ('permutohedral', 'dense') on the same inputs:
    * time_s: median wall time of forward + backward (softmax -> loss ->
      backward to the logits) over ``--repeat`` runs, after one warm-up run
      (the warm-up is skipped for dense runs predicted to take over 20 s).
    * peak_rss_mb: peak resident memory above the level just before the runs,
      sampled every 1 ms from /proc/self/statm (sees torch's allocations, which
      tracemalloc does not), each filter in a fresh subprocess.
    * energy: the loss before its weight, and for the pair: time ratio
      dense / permutohedral, energy ratio permutohedral / dense, relative
      difference |E_p - E_d| / |E_d|.
Sizes above ``--dense-max-size`` skip the dense run and extrapolate its time
from the largest measured dense size as c * N^2 (its memory is bounded by the
chunking, so it is reported as the measured value of that size).
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

COCO_MINI = os.environ.get('MMWSSS_COCO_MINI', '/work/shared/data/coco-mini')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def make_case(size: int, batch: int, classes: int, seed: int = 0) -> Dict[str, torch.Tensor]:
    """images (B, 3, S, S) 0..255, logits (B, K, S, S), rois (B, S, S), label (B, 1, S, S)."""
    g = torch.Generator().manual_seed(seed)
    files = sorted(glob.glob(osp.join(COCO_MINI, 'train2017', '*.jpg')))[:batch]
    if len(files) == batch:
        from PIL import Image
        imgs = [
            np.asarray(Image.open(f).convert('RGB').resize((size, size), Image.BILINEAR))
            for f in files
        ]
        images = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    else:
        field = F.interpolate(
            torch.randn(batch, 6, 6, 6, generator=g),
            size=(size, size),
            mode='bilinear',
            align_corners=False)
        colours = torch.rand(6, 3, generator=g) * 255
        images = colours[field.argmax(1)].permute(0, 3, 1, 2)
    logits = F.interpolate(
        torch.randn(batch, classes, 12, 12, generator=g) * 4,
        size=(size, size),
        mode='bilinear',
        align_corners=False)
    probs = logits.softmax(1)
    top, arg = probs.max(1)
    label = torch.where(top < 0.7, torch.full_like(arg, 255), arg).unsqueeze(1).float()
    rois = torch.ones(batch, size, size)
    b = size // 10
    rois[0, :b] = 0
    rois[0, -b:] = 0
    rois[0, :, :b] = 0
    rois[0, :, -b:] = 0
    label[0, 0][rois[0] == 0] = 255
    images[0][:, rois[0] == 0] = 0
    return dict(images=images, logits=logits, rois=rois, label=label)


class PeakRSS:
    """Peak resident set size above the level at start, sampled every 1 ms."""

    def __init__(self) -> None:
        self.page = os.sysconf('SC_PAGE_SIZE')
        self.base = self._rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.001)

    def __enter__(self) -> 'PeakRSS':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def run_one(size: int,
            filt: str,
            batch: int,
            classes: int,
            repeat: int,
            device: str,
            expected_s: Optional[float] = None) -> Dict[str, float]:
    """Time forward + backward of one filter on the case of ``size``."""
    sys.path.insert(0, REPO)
    from mmwsss.models.losses.dense_energy_loss import dense_energy_loss
    case = {k: v.to(device) for k, v in make_case(size, batch, classes).items()}

    def step() -> float:
        logits = case['logits'].clone().requires_grad_(True)
        energy = dense_energy_loss(
            case['images'], logits.softmax(1), case['rois'], case['label'], filter=filt)
        energy.backward()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        return energy.item()

    times: List[float] = []
    with PeakRSS() as mem:
        if expected_s is None or expected_s < 20:
            step()
        for _ in range(repeat):
            t0 = time.perf_counter()
            energy = step()
            times.append(time.perf_counter() - t0)
    out = dict(
        size=size,
        pixels=(size // 2)**2,
        filter=filt,
        time_s=statistics.median(times),
        peak_rss_mb=mem.mb,
        energy=energy,
        repeat=repeat)
    if device.startswith('cuda'):
        out['gpu_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_isolated(args: argparse.Namespace, size: int, filt: str, repeat: int,
                 expected_s: Optional[float]) -> Dict[str, float]:
    if args.no_isolate:
        return run_one(size, filt, args.batch, args.classes, repeat, args.device, expected_s)
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--_child',
        str(size), filt, '--batch',
        str(args.batch), '--classes',
        str(args.classes), '--repeat',
        str(repeat), '--device', args.device
    ]
    if expected_s is not None:
        cmd += ['--_expected', str(expected_s)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> List[Dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=[448, 128],
        help='full-resolution square sizes S (the loss runs at S/2)')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--classes', type=int, default=21)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument(
        '--dense-max-size',
        type=int,
        default=448,
        help='largest S for which the dense form runs (others extrapolate)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--json', default=None)
    p.add_argument('--no-isolate', action='store_true')
    p.add_argument('--_child', nargs=2, default=None, help=argparse.SUPPRESS)
    p.add_argument('--_expected', type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        size, filt = int(args._child[0]), args._child[1]
        print(
            json.dumps(
                run_one(size, filt, args.batch, args.classes, args.repeat, args.device,
                        args._expected)))
        return []

    rows: List[Dict[str, float]] = []
    dense_ref: Optional[Dict[str, float]] = None  # largest measured dense run
    for size in sorted(args.sizes):
        perm = run_isolated(args, size, 'permutohedral', args.repeat, None)
        if size <= args.dense_max_size:
            expected = None
            if dense_ref is not None:
                expected = dense_ref['time_s'] * (perm['pixels'] / dense_ref['pixels'])**2
            dense = run_isolated(args, size, 'dense', 1 if (expected or 0) > 20 else args.repeat,
                                 expected)
            dense_ref = dense
            dense['extrapolated'] = False
        elif dense_ref is not None:
            scale = (perm['pixels'] / dense_ref['pixels'])**2
            dense = dict(
                size=size,
                pixels=perm['pixels'],
                filter='dense',
                time_s=dense_ref['time_s'] * scale,
                peak_rss_mb=dense_ref['peak_rss_mb'],
                energy=None,
                extrapolated=True)
        else:
            dense = None
        row = dict(
            size=size,
            pixels=perm['pixels'],
            batch=args.batch,
            classes=args.classes,
            perm_time_s=perm['time_s'],
            perm_peak_rss_mb=perm['peak_rss_mb'],
            perm_energy=perm['energy'])
        if dense is not None:
            row.update(
                dense_time_s=dense['time_s'],
                dense_peak_rss_mb=dense['peak_rss_mb'],
                dense_energy=dense['energy'],
                dense_extrapolated=dense['extrapolated'],
                time_ratio=dense['time_s'] / perm['time_s'])
            if not dense['extrapolated']:
                row.update(
                    energy_ratio=perm['energy'] / dense['energy'],
                    energy_rel_diff=abs(perm['energy'] - dense['energy']) / abs(dense['energy']))
        rows.append(row)
        print(_format(row), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return rows


def _format(row: Dict[str, float]) -> str:
    s = (f"S={row['size']} ({row['pixels']} px/img after 0.5x, B={row['batch']}, "
         f"K={row['classes']}): permutohedral {row['perm_time_s']:.3f} s, "
         f"{row['perm_peak_rss_mb']:.0f} MB")
    if 'dense_time_s' in row:
        tag = ' (extrapolated c*N^2)' if row['dense_extrapolated'] else ''
        s += (f" | dense {row['dense_time_s']:.2f} s{tag}, {row['dense_peak_rss_mb']:.0f} MB"
              f" | dense/perm time x{row['time_ratio']:.1f}")
        if 'energy_ratio' in row:
            s += (f" | E_perm {row['perm_energy']:.6g} E_dense {row['dense_energy']:.6g}"
                  f" ratio {row['energy_ratio']:.4f} rel diff {row['energy_rel_diff']:.4f}")
    return s


if __name__ == '__main__':
    main()
