"""Time and peak memory of one single-stage WSSS training iteration, broken down by stage.

    python tools/analysis_tools/benchmark_single_stage.py CONFIG [--batch 2] [--size 448]
        [--iters 3] [--warmup 1] [--threads 2] [--device cpu] [--all-terms] [--json OUT]

Builds the config's model with random weights (no checkpoint needed), feeds it a
synthetic batch of ``--batch`` random images of ``--size`` (with random image labels and
every view the model's data preprocessor asks for), and runs full training iterations
(preprocessor, forward, backward, AdamW step). Reported per stage (the branch forwards,
the shared multi-scale CAMs, each label source, each loss term, the backward pass):

- time: median over ``--iters`` timed iterations after ``--warmup`` ones;
- peak memory: on CUDA the peak allocated during the stage; on CPU the growth of this
  process's peak resident set size during the stage (``VmHWM``, reset before each stage
  through ``/proc/self/clear_refs``), i.e. the extra working set the stage needs.

``--all-terms`` switches on terms that the schedule keeps off at iteration 0 (ToCo's seg
and reg terms start after iteration 2000), so that every term is measured.

Example (the issue's measurement): ToCo ViT-B/16 at 448x448, batch 2, on this CPU:
    python tools/analysis_tools/benchmark_single_stage.py \\
        configs/toco/toco_vit-b16_2xb2-20k_voc12aug-448x448.py --batch 2 --size 448 --all-terms
"""
import argparse
import contextlib
import json
import os
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--size', type=int, default=448)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', action='store_true', help='autocast (CUDA bf16/fp16) forward')
    p.add_argument('--all-terms', action='store_true')
    p.add_argument('--json', help='write the table as JSON here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args()


def _rss_peak_kb() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def _reset_rss_peak() -> None:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:  # not Linux / not permitted: peaks then only grow
        pass


class StageTimer:
    """``model.stage_hook``: time and peak memory per stage name."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times = defaultdict(list)
        self.mem = defaultdict(list)
        self.enabled = True

    def _sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def __call__(self, name: str):
        if not self.enabled:
            yield
            return
        self._sync()
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
        else:
            _reset_rss_peak()
            base = _rss_peak_kb() * 1024
        t = time.perf_counter()
        yield
        self._sync()
        self.times[name].append(time.perf_counter() - t)
        if self.device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated(self.device) - base
        else:
            peak = _rss_peak_kb() * 1024 - base
        self.mem[name].append(max(peak, 0))


def synthetic_batch(model, batch: int, size: int, num_classes: int, seed: int = 0) -> dict:
    """A data batch as the dataloader would give it (uint8 BGR CHW images + samples)."""
    g = np.random.default_rng(seed)
    inputs, samples = [], []
    views = getattr(model.data_preprocessor, 'view_cfgs', {})
    for i in range(batch):
        img = torch.from_numpy(g.integers(0, 256, (3, size, size), dtype=np.uint8))
        label = torch.zeros(num_classes)
        label[g.choice(num_classes, size=2, replace=False)] = 1
        s = WSSSDataSample(
            metainfo=dict(
                img_shape=(size, size), ori_shape=(size, size), img_path=f'synthetic_{i}.jpg'))
        s.gt_img_label = label
        pipeline_views = {v['source'] for v in views.values() if v['source'] != 'img'}
        if pipeline_views:
            from mmwsss.datasets.transforms.views import ViewData
            s.views = ViewData(**{k: img.clone() for k in pipeline_views})
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    mcfg = cfg.model
    mcfg.data_preprocessor.size = (args.size, args.size)
    bb = mcfg.get('backbone')
    if bb is not None:
        bb.init_cfg = None  # random weights: the timing does not depend on them
    if args.all_terms:
        for term in mcfg.get('loss_terms', []):
            term.pop('schedule', None)
    device = torch.device(args.device)
    model = MODELS.build(mcfg).to(device)
    model.init_weights()
    model.train()
    num_classes = model.data_preprocessor.num_classes
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    timer = StageTimer(device)
    model.stage_hook = timer
    MessageHub.get_current_instance().update_info('iter', 0)
    data = synthetic_batch(model, args.batch, args.size, num_classes)
    totals = []
    for it in range(args.warmup + args.iters):
        timer.enabled = it >= args.warmup
        if not timer.enabled:
            timer.times.clear()
        t0 = time.perf_counter()
        with timer('preprocess'):
            batch = model.data_preprocessor(
                dict(inputs=[x.clone() for x in data['inputs']], data_samples=data['data_samples']),
                True)
        amp = torch.autocast(device.type) if args.amp else contextlib.nullcontext()
        with amp:
            losses = model(**batch, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        with timer('backward'):
            optim.zero_grad()
            loss.backward()
        with timer('optimizer'):
            optim.step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        if timer.enabled:
            totals.append(time.perf_counter() - t0)
    rows = []
    for name in timer.times:
        rows.append(
            dict(
                stage=name,
                time_s=statistics.median(timer.times[name]),
                peak_mb=max(timer.mem[name]) / 2**20))
    total = statistics.median(totals)
    print(f'{os.path.basename(args.config)}: batch {args.batch}, {args.size}x{args.size}, '
          f'device {device}, threads {torch.get_num_threads()}, amp {args.amp}')
    print(f'{"stage":<28}{"time (s)":>10}{"share":>8}{"peak (MB)":>12}')
    for r in rows:
        print(f'{r["stage"]:<28}{r["time_s"]:>10.3f}{100 * r["time_s"] / total:>7.1f}%'
              f'{r["peak_mb"]:>12.1f}')
    peak = _rss_peak_kb() / 1024 if device.type == 'cpu' else \
        torch.cuda.max_memory_allocated(device) / 2**20
    print(f'{"whole iteration":<28}{total:>10.3f}{"":>8}{peak:>12.1f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    batch=args.batch,
                    size=args.size,
                    device=str(device),
                    amp=args.amp,
                    iteration_s=total,
                    stages=rows),
                f,
                indent=1)


if __name__ == '__main__':
    main()
