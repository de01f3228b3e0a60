"""Training-step time and peak memory of WeCLIP at its official crop, random ViT-B/16 weights.

    python tools/analysis_tools/benchmark_weclip.py [--config CFG] [--batch 4] [--size 320]
        [--iters 3] [--warmup 1] [--threads N] [--devices cpu cuda] [--rfm] [--json OUT]

Builds the WeCLIP VOC config (frozen OpenAI-shaped CLIP ViT-B/16 with RANDOM weights: no
checkpoint is needed and the timing does not depend on the values; the decoder; the online
CLIP-ES CAMs with PAR; both losses) and runs full training steps (data preprocessor,
forward, the label source, both terms, backward, AdamW step) on a synthetic batch of
``--batch`` random ``--size`` images with 2 random labels each. Per device:

- ``cpu``: fp32; peak memory = this process's peak resident set size (``VmHWM``);
- ``cuda`` (when a GPU is present): the forward under ``torch.autocast`` (fp16, as the
  official fp16 CLIP; the official code has no GradScaler-visible difference in time), peak
  memory = ``torch.cuda.max_memory_allocated``.

Reported: the median step time over ``--iters`` steps after ``--warmup`` ones, and the
median time of each stage (the branch forward, the label source, each term, backward).
``--rfm`` times the steps with the RFM on (after WeCLIP's onset); default: before it.
"""
import argparse
import contextlib
import json
import os
import statistics
import time
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample

DEFAULT_CONFIG = 'configs/weclip/weclip_vit-b16_1xb4-30k_voc12aug-320x320.py'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--batch', type=int, default=4, help='WeCLIP: 4 per GPU')
    p.add_argument('--size', type=int, default=320, help='WeCLIP: crop 320')
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--devices', nargs='+', default=None, help='default: cpu (+ cuda if any)')
    p.add_argument('--rfm', action='store_true', help='time with the RFM on')
    p.add_argument('--json', help='write the results as JSON here')
    return p.parse_args()


def _rss_peak_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


class _Stages:
    """``model.stage_hook``: wall time per stage (device-synchronised)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: Dict[str, List[float]] = defaultdict(list)
        self.on = False

    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def __call__(self, name: str):
        if not self.on:
            yield
            return
        self._sync()
        t = time.perf_counter()
        yield
        self._sync()
        self.times[name].append(time.perf_counter() - t)


def synthetic_batch(batch: int, size: int, num_classes: int, seed: int = 0) -> dict:
    g = np.random.default_rng(seed)
    inputs, samples = [], []
    for i in range(batch):
        inputs.append(torch.from_numpy(g.integers(0, 256, (3, size, size), dtype=np.uint8)))
        s = WSSSDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size), img_path=f'{i}.jpg'))
        label = torch.zeros(num_classes)
        label[g.choice(num_classes, size=2, replace=False)] = 1
        s.gt_img_label = label
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def run_device(cfg: Config, device: torch.device, args) -> dict:
    torch.manual_seed(0)
    mcfg = cfg.model.copy()
    mcfg.data_preprocessor.size = (args.size, args.size)
    # random ViT-B/16 weights: no checkpoint
    mcfg.branches.net.backbone.backbone.clip.checkpoint = None
    model = MODELS.build(mcfg).to(device)
    model.init_weights()
    model.train()
    stages = _Stages(device)
    model.stage_hook = stages
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    it = 10**6 if args.rfm else 0
    MessageHub.get_current_instance().update_info('iter', it)
    data = synthetic_batch(args.batch, args.size, model.data_preprocessor.num_classes)
    amp = device.type == 'cuda'
    if amp:
        torch.cuda.reset_peak_memory_stats(device)
    totals = []
    for step in range(args.warmup + args.iters):
        stages.on = step >= args.warmup
        t0 = time.perf_counter()
        batch = model.data_preprocessor(
            dict(inputs=[x.clone() for x in data['inputs']], data_samples=data['data_samples']),
            True)
        ctx = torch.autocast('cuda', dtype=torch.float16) if amp else contextlib.nullcontext()
        with ctx:
            losses = model(**batch, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        with stages('backward'):
            optim.zero_grad()
            loss.backward()
        optim.step()
        if amp:
            torch.cuda.synchronize(device)
        if stages.on:
            totals.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if amp else _rss_peak_mb()
    return dict(
        device=str(device),
        amp=amp,
        threads=torch.get_num_threads(),
        batch=args.batch,
        size=args.size,
        rfm=args.rfm,
        step_s=statistics.median(totals),
        peak_mb=peak,
        stages={
            k: statistics.median(v)
            for k, v in stages.times.items()
        },
        losses={
            k: float(v.detach())
            for k, v in losses.items()
        })


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    devices = args.devices or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    results = []
    for name in devices:
        if name.startswith('cuda') and not torch.cuda.is_available():
            print(f'{name}: no GPU, skipped')
            continue
        r = run_device(cfg, torch.device(name), args)
        results.append(r)
        print(f"WeCLIP ViT-B/16 (random weights), batch {r['batch']}, {r['size']}x{r['size']}, "
              f"{r['device']}{' + AMP fp16' if r['amp'] else ''}, threads {r['threads']}, "
              f"RFM {'on' if r['rfm'] else 'off'}")
        for k, v in r['stages'].items():
            print(f'  {k:<24}{v:>9.3f} s')
        print(f"  {'training step':<24}{r['step_s']:>9.3f} s   peak memory {r['peak_mb']:.0f} MB")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
