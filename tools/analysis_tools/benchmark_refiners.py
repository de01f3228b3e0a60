"""Time and peak memory of the pseudo-label refiners on real photos.

    python tools/analysis_tools/benchmark_refiners.py [--sizes 320 448 512 1024]
        [--present 3 20] [--only crf_psa par_toco] [--json out.json]
        [--config CFG [--checkpoint CKPT]] [--device cpu|cuda]

Each case is a coco-mini photo resized to S x S (uint8 RGB) with CAMs over
``--num-classes`` classes, ``P`` of them present (``--present``). CAMs are
synthetic (smooth random blobs, max-normalised) unless ``--config`` gives a CAM
model (``predict_cams``; random weights without ``--checkpoint``), whose top-P
classes by mean CAM are taken as present.

Measurement (CPU):
    * time: median wall time of ``--repeat`` runs after one warm-up run.
    * peak_rss_mb: peak resident set size above the level just before the
      refiner runs, sampled every 1 ms by a thread reading /proc/self/statm.
      It sees every allocation (numpy, torch CPU and the CRF's C++ heap),
      unlike tracemalloc (Python / numpy only) or the torch profiler (torch
      only). Each benchmark runs in a fresh subprocess so allocator caches of
      an earlier run do not hide memory (``--no-isolate`` turns that off).
    * py_peak_mb: tracemalloc peak of one extra run: the numpy / Python share.
    * gpu_peak_mb: torch.cuda.max_memory_allocated with ``--device cuda``.

Benchmarks live in the ``BENCHMARKS`` registry: a function taking a
:class:`Case` and returning a zero-argument callable that runs the refiner
once. Add one with ``@register_benchmark('name')`` in its own function.
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
import tracemalloc
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

COCO_MINI = os.environ.get('MMWSSS_COCO_MINI', '/work/shared/data/coco-mini')


@dataclass
class Case:
    """One benchmark input: img (1, 3, S, S) uint8 RGB, cams (1, C, S, S), labels (1, C)."""
    img: torch.Tensor
    cams: torch.Tensor
    img_labels: torch.Tensor
    device: str = 'cpu'

    def state(self) -> dict:
        return dict(img=self.img, cams=self.cams, img_labels=self.img_labels)


BenchFn = Callable[[Case], Callable[[], object]]
BENCHMARKS: Dict[str, BenchFn] = {}


def register_benchmark(name: str) -> Callable[[BenchFn], BenchFn]:

    def deco(fn: BenchFn) -> BenchFn:
        if name in BENCHMARKS:
            raise KeyError(f'benchmark {name} registered twice')
        BENCHMARKS[name] = fn
        return fn

    return deco


# --------------------------------------------------------------- CRF and PAR
@register_benchmark('crf_psa')
def bench_crf_psa(case: Case):
    """PSA crf_inference: softmax unary on bg (alpha 4) + present classes, CPU."""
    from mmwsss.models.refiners import DenseCRF
    crf = DenseCRF(preset='psa', bg_power=4)
    state = {k: v.cpu() for k, v in case.state().items()}
    return lambda: crf(state)


@register_benchmark('crf_irn_label')
def bench_crf_irn_label(case: Case):
    """IRN crf_inference_label: label unary (gt_prob 0.7) from bg 0.30, CPU."""
    from mmwsss.models.refiners import DenseCRF
    crf = DenseCRF(preset='irn_label', bg_score=0.30)
    state = {k: v.cpu() for k, v in case.state().items()}
    return lambda: crf(state)


@register_benchmark('par_toco')
def bench_par_toco(case: Case):
    """ToCo refine_cams_with_bkg_v2: two passes, PAR at S/2, 10 iterations."""
    from mmwsss.models.refiners import PARRefiner
    refiner = PARRefiner().to(case.device)
    state = case.state()
    return lambda: _sync(refiner(state), case.device)


@register_benchmark('par_full')
def bench_par_full(case: Case):
    """Plain PAR module at full S x S on softmax([bg 0.5, present CAMs]): one pass."""
    from mmwsss.models.refiners import PAR
    par = PAR().to(case.device)
    keep = case.img_labels[0] > 0
    logits = torch.cat([torch.full_like(case.cams[:, :1], 0.5), case.cams[:, keep]], 1)
    masks = logits.softmax(1)
    img = case.img.float() / 255
    return lambda: _sync(par(img, masks), case.device)


def _sync(out, device: str):
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return out


# --------------------------------------------------------------- random walks
# AffinityNet (PSA) and IRN random walks on affinities derived from the photo
# itself (no trained network is timed): stride-8 features 40 * colour +
# position for PSA, a colour-gradient boundary map at stride 4 for IRN. The
# ``dense`` variants are the official (hw)^2 matrix power; they raise (and the
# row reports the memory they would need) above MMWSSS_RW_DENSE_LIMIT_GB
# (default 1). Label agreement between the modes: :func:`random_walk_agreement`.
RW_DENSE_LIMIT_GB = float(os.environ.get('MMWSSS_RW_DENSE_LIMIT_GB', 1))


def rw_features(img: torch.Tensor, stride: int = 8) -> torch.Tensor:
    """(1, 5, S/stride, S/stride): 40 x pooled RGB in [0, 1] + (y, x) in [0, 1]."""
    small = F.avg_pool2d(img.float() / 255, stride, ceil_mode=True)
    h, w = small.shape[-2:]
    ys = torch.linspace(0, 1, h, device=img.device).view(1, 1, h, 1).expand(1, 1, h, w)
    xs = torch.linspace(0, 1, w, device=img.device).view(1, 1, 1, w).expand(1, 1, h, w)
    return torch.cat([small * 40, ys, xs], 1)


def rw_boundary(img: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """(1, 1, S/stride, S/stride) boundary probabilities: colour-gradient magnitude."""
    small = F.avg_pool2d(img.float() / 255, stride, ceil_mode=True)
    gy = (small[..., 1:, :] - small[..., :-1, :]).abs().sum(1, keepdim=True)
    gx = (small[..., :, 1:] - small[..., :, :-1]).abs().sum(1, keepdim=True)
    grad = F.pad(gy, (0, 0, 0, 1)) + F.pad(gx, (0, 1, 0, 0))
    return (grad / (grad.max() + 1e-5)).clamp(0, 1)


def _rw_check_dense(mode: str, size: int, stride: int) -> None:
    from mmwsss.models.refiners.random_walk import dense_memory_bytes
    hw = -(-size // stride)
    need = dense_memory_bytes(hw, hw) / 2**30
    if mode == 'dense' and need > RW_DENSE_LIMIT_GB:
        raise RuntimeError(f'skipped: the dense walk on a {hw}x{hw} map needs ~{need:.1f} GB '
                           f'(3 x ({hw * hw})^2 float32) > {RW_DENSE_LIMIT_GB} GB')


def _psa_rw(mode: str) -> BenchFn:

    def bench(case: Case):
        """AffinityRandomWalk (beta 8, logt 8, alpha 16) on precomputed features."""
        from mmwsss.models.refiners import AffinityRandomWalk
        _rw_check_dense(mode, case.img.shape[-1], 8)
        refiner = AffinityRandomWalk(mode=mode)
        state = dict(case.state(), aff_feats=rw_features(case.img, 8))
        return lambda: refiner(dict(state))

    return bench


def _irn_rw(mode: str) -> BenchFn:

    def bench(case: Case):
        """IRNRandomWalk (beta 10, 2^8 steps, bg 0.25) on a precomputed boundary map."""
        from mmwsss.models.refiners import IRNRandomWalk
        _rw_check_dense(mode, case.img.shape[-1], 4)
        refiner = IRNRandomWalk(mode=mode)
        state = dict(case.state(), boundary=rw_boundary(case.img, 4))
        return lambda: refiner(dict(state))

    return bench


def _core_rw(mode: str) -> BenchFn:

    def bench(case: Case):
        """The walk alone (PSA settings): affinities of the stride-8 features,
        then 256 steps on the pooled [bg, present classes] scores."""
        from mmwsss.models.refiners.random_walk import feature_affinity, pair_offsets, random_walk
        from mmwsss.models.utils.cam import add_background
        _rw_check_dense(mode, case.img.shape[-1], 8)
        offsets = pair_offsets(5)
        feats = rw_features(case.img, 8)
        keep = case.img_labels[0] > 0
        scores = add_background(case.cams[:, keep], power=16)
        small = F.avg_pool2d(scores, 8, 8, ceil_mode=True)
        return lambda: random_walk(
            small, feature_affinity(feats, offsets), offsets, beta=8, logt=8, mode=mode)

    return bench


for _mode in ('local', 'sparse', 'dense'):
    register_benchmark(f'rw_core_{_mode}')(_core_rw(_mode))
    register_benchmark(f'rw_psa_{_mode}')(_psa_rw(_mode))
    register_benchmark(f'rw_irn_{_mode}')(_irn_rw(_mode))


def random_walk_agreement(
    sizes=(320, 512), present: int = 3, method: str = 'psa',
    modes=('local', 'sparse')) -> List[dict]:
    """Labels and scores of each mode against the dense walk on the same inputs.

        python -c "import sys; sys.path.insert(0, 'tools/analysis_tools'); \\
            import benchmark_refiners as b; print(b.random_walk_agreement())"
    """
    from mmwsss.models.refiners import AffinityRandomWalk, IRNRandomWalk
    rows = []
    for size in sizes:
        img = load_photo(size)
        cams, labels = synthetic_cams(size, 20, present)
        if method == 'psa':
            state = dict(img=img, cams=cams, img_labels=labels, aff_feats=rw_features(img, 8))
            build = AffinityRandomWalk
        else:
            state = dict(img=img, cams=cams, img_labels=labels, boundary=rw_boundary(img, 4))
            build = IRNRandomWalk
        ref = build(mode='dense')(dict(state))
        for mode in modes:
            out = build(mode=mode)(dict(state))
            rows.append(
                dict(
                    method=method,
                    size=size,
                    mode=mode,
                    labels_equal=float((out['label'] == ref['label']).float().mean()),
                    max_score_diff=float((out['scores'] - ref['scores']).abs().max())))
    return rows


# --------------------------------------------------------------- inputs
def load_photo(size: int, path: Optional[str] = None) -> torch.Tensor:
    """A coco-mini photo resized to size x size: (1, 3, S, S) uint8 RGB."""
    if path is None:
        files = sorted(glob.glob(osp.join(COCO_MINI, '*2017', '*.jpg')))
        if not files:
            raise FileNotFoundError(f'no coco-mini photos under {COCO_MINI} '
                                    '(set MMWSSS_COCO_MINI or pass --image)')
        path = files[0]
    img = Image.open(path).convert('RGB').resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].contiguous()


def synthetic_cams(size: int, num_classes: int, present: int, seed: int = 0):
    """Smooth blobs: random (C, S/32, S/32) maps, bicubic up, ReLU, max-normalised."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(1, num_classes, max(2, size // 32), max(2, size // 32), generator=g)
    cams = F.relu(F.interpolate(low, size=(size, size), mode='bicubic', align_corners=False))
    cams = cams / (cams.flatten(2).max(-1)[0][..., None, None] + 1e-5)
    labels = torch.zeros(1, num_classes)
    labels[0, torch.randperm(num_classes, generator=g)[:present]] = 1
    return cams * labels[..., None, None], labels


def model_cams(img: torch.Tensor, present: int, config: str, checkpoint: Optional[str]):
    """CAMs of a config's CAM model on the image; the top-``present`` classes by mean."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import mmwsss  # noqa: F401
    from mmwsss.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    model = MODELS.build(cfg.model).eval()
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    bgr = img[0].flip(0)  # the data preprocessor expects mmcv's BGR
    data = model.data_preprocessor(dict(inputs=[bgr], data_samples=None), False)
    with torch.no_grad():
        cams = model.predict_cams(data['inputs'])[0][None].float()
    cams = F.interpolate(cams, size=img.shape[-2:], mode='bilinear', align_corners=False)
    labels = torch.zeros(1, cams.shape[1])
    labels[0, cams.mean((0, 2, 3)).topk(min(present, cams.shape[1]))[1]] = 1
    cams = cams / (cams.flatten(2).max(-1)[0][..., None, None] + 1e-5)
    return cams * labels[..., None, None], labels


# --------------------------------------------------------------- measuring
def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class RSSPeak:
    """Peak RSS above the entry level, sampled by a thread every ``interval`` s."""

    def __init__(self, interval: float = 1e-3) -> None:
        self.interval = interval
        self.peak = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> 'RSSPeak':
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def measure(name: str, case: Case, repeat: int) -> dict:
    """Run one registered benchmark: warm-up, memory run, timed runs, tracemalloc run."""
    run = BENCHMARKS[name](case)
    if case.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    with RSSPeak() as rss:
        run()  # warm-up, also the peak-memory run
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    run()
    py_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    row = dict(
        benchmark=name,
        size=int(case.img.shape[-1]),
        classes=int(case.img_labels.shape[1]),
        present=int(case.img_labels.sum()),
        device=case.device,
        time_s=round(statistics.median(times), 4),
        time_min_s=round(min(times), 4),
        peak_rss_mb=round(rss.delta_mb, 1),
        py_peak_mb=round(py_peak / 2**20, 1),
        threads=torch.get_num_threads(),
        load1=round(os.getloadavg()[0], 1))  # other work on the machine
    if case.device.startswith('cuda'):
        row['gpu_peak_mb'] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def make_case(args, size: int, present: int) -> Case:
    img = load_photo(size, args.image)
    if args.config:
        cams, labels = model_cams(img, present, args.config, args.checkpoint)
    else:
        cams, labels = synthetic_cams(size, args.num_classes, present, args.seed)
    dev = args.device
    return Case(img.to(dev), cams.to(dev), labels.to(dev), dev)


def run_isolated(args, name: str, size: int, present: int) -> dict:
    """Run one benchmark in a fresh interpreter (clean allocator state)."""
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--worker', name,
        str(size),
        str(present), '--repeat',
        str(args.repeat), '--num-classes',
        str(args.num_classes), '--seed',
        str(args.seed), '--device', args.device
    ]
    for opt in ('image', 'config', 'checkpoint', 'threads'):
        if getattr(args, opt) is not None:
            cmd += [f'--{opt}', str(getattr(args, opt))]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return dict(benchmark=name, size=size, present=present, error=out.stderr.strip()[-500:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(rows: List[dict]) -> None:
    cols = [
        'benchmark', 'size', 'present', 'device', 'threads', 'time_s', 'time_min_s', 'peak_rss_mb',
        'py_peak_mb', 'gpu_peak_mb', 'load1'
    ]
    cols = [c for c in cols if any(c in r for r in rows)]
    width = {c: max(len(c), *(len(str(r.get(c, ''))) for r in rows)) for c in cols}
    print('  '.join(c.ljust(width[c]) for c in cols))
    for r in rows:
        if 'error' in r:
            print(f"{r['benchmark']}  {r['size']}  {r['present']}  ERROR: {r['error']}")
            continue
        print('  '.join(str(r.get(c, '')).ljust(width[c]) for c in cols))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Benchmark the pseudo-label refiners')
    p.add_argument('--sizes', type=int, nargs='+', default=[320, 448, 512, 1024])
    p.add_argument(
        '--present', type=int, nargs='+', default=[3, 20], help='numbers of present classes to try')
    p.add_argument('--num-classes', type=int, default=20, help='foreground classes C')
    p.add_argument('--only', nargs='+', default=None, help='benchmark names to run')
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--image', default=None, help='photo to use (default: first coco-mini)')
    p.add_argument('--config', default=None, help='CAM model config for real CAMs')
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument(
        '--no-isolate',
        action='store_true',
        help='run everything in this process (memory numbers less reliable)')
    p.add_argument('--json', default=None, help='write the rows to this JSON file')
    p.add_argument('--worker', nargs=3, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        name, size, present = args.worker
        print(json.dumps(measure(name, make_case(args, int(size), int(present)), args.repeat)))
        return []
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f'unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}')
    rows = []
    for size in args.sizes:
        for present in args.present:
            for name in names:
                if args.no_isolate:
                    row = measure(name, make_case(args, size, present), args.repeat)
                else:
                    row = run_isolated(args, name, size, present)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(rows)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == '__main__':
    main()
