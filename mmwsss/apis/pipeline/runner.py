"""Running the steps: one repository tool per step in its own process, skipped when
its ``step.json`` exists, with the placeholders, checkpoints and label folders handed on
(see :mod:`mmwsss.apis.pipeline`)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from mmwsss.utils.io import atomic_write_json, atomic_write_text
from .recipe import PLACEHOLDER, PipelineError, Step, StepRecord, _option_value


def run_logged(cmd: List[str],
               log_path: str,
               echo: bool = True,
               env: Optional[dict] = None) -> tuple:
    """Run ``cmd``, teeing its output to ``log_path`` (and stdout when ``echo``).

    Returns:
        (return code, wall seconds, peak resident memory of the child in MB or None).
    """
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    start = time.time()
    with open(log_path, 'a', encoding='utf-8') as log:
        log.write(f'$ {" ".join(cmd)}\n')
        log.flush()
        # unbuffered child: its log lines reach the step log (and the screen) as they come
        child_env = dict(os.environ if env is None else env, PYTHONUNBUFFERED='1')
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env,
            text=True,
            bufsize=1)
        for line in proc.stdout:
            log.write(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        proc.stdout.close()
        rss = None
        try:  # the child's own peak RSS (Linux reports KiB)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss / 1024.0
        except ChildProcessError:  # already reaped
            proc.wait()
    return proc.returncode, time.time() - start, rss


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` file in ``work_dir`` points to."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        path = f.read().strip()
    return path if path and osp.isfile(path) else None


_LOG_TIME = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')
_LOG_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/')


def logged_train_seconds(checkpoint: str) -> Optional[float]:
    """Wall seconds of the training that wrote ``checkpoint``, read from mmengine's
    logs next to it (``<work_dir>/<timestamp>/<timestamp>.log``): from the first line of
    a log to its last ``Iter(train)`` line, summed over the last log and the earlier ones
    it resumed (their iterations end before it starts); for ``iter_N.pth`` up to the
    last logged iteration <= N. None when no log is there."""
    import datetime
    import glob
    m = re.search(r'iter_(\d+)\.pth$', checkpoint)
    upto = int(m.group(1)) if m else None  # an earlier checkpoint of a longer run
    spans = []
    for log in sorted(glob.glob(osp.join(osp.dirname(checkpoint), '*', '*.log'))):
        first = last = None
        iters = []
        with open(log, encoding='utf-8', errors='replace') as f:
            for line in f:
                m = _LOG_TIME.match(line)
                if m is None:
                    continue
                first = first or m.group(1)
                it = _LOG_ITER.search(line)
                if it and (upto is None or int(it.group(1)) <= upto):
                    last = m.group(1)
                    iters.append(int(it.group(1)))
        if first and last:
            t = [datetime.datetime.strptime(x, '%Y/%m/%d %H:%M:%S') for x in (first, last)]
            spans.append((min(iters), max(iters), (t[1] - t[0]).total_seconds()))
    if not spans:
        return None
    total, start = spans[-1][2], spans[-1][0]
    for lo, hi, sec in reversed(spans[:-1]):  # walk back through the runs it resumed
        if hi >= start:
            break
        total, start = total + sec, lo
    return round(total, 1)


def _tail(path: str, n: int = 15) -> str:
    with open(path, encoding='utf-8', errors='replace') as f:
        return ''.join(f.readlines()[-n:])


class PipelineRunner:
    """Run the steps of a recipe, skipping those already done.

    Args:
        steps: from :func:`recipe_steps`.
        work_dir: one folder per step goes here.
        data_root: passed as ``--data-root`` to every tool (None: the configs').
        tools_dir: the repository's ``tools/`` folder.
        echo: show the tools' output (else only the step lines and the log paths).
        python: interpreter for the tools.
        force: step names to redo even when done.
        reuse: ``{train step: checkpoint}``: take these trained checkpoints instead of
            training (their wall time is then unknown).
        until: stop after this step (a later run without it goes on from there).
        cfg_options: ``KEY=VALUE`` strings added to the ``--cfg-options`` of every
            train / test / labels step, after the step's own (so they win), e.g.
            ``model.clip_checkpoint=None`` for a random-weight plumbing run; tool
            scripts and the label evaluation do not get them.
        progress: called with one line per step event (default: print).
    """

    def __init__(
        self,
        steps: Sequence[Step],
        work_dir: str,
        data_root: Optional[str] = None,
        tools_dir: str = 'tools',
        echo: bool = True,
        python: str = sys.executable,
        force: Sequence[str] = (),
        reuse: Optional[Dict[str, str]] = None,
        until: Optional[str] = None,
        progress: Optional[Callable[[str], None]] = None,
        cfg_options: Sequence[str] = ()) -> None:
        self.steps = list(steps)
        bad = [o for o in cfg_options if '=' not in o]
        if bad:
            raise PipelineError(f'--cfg-options {bad}: expected KEY=VALUE')
        self.cfg_options = list(cfg_options)
        self.work_dir = work_dir
        self.data_root = data_root
        self.tools_dir = tools_dir
        self.echo = echo
        self.python = python
        self.force = set(force)
        unknown = self.force - {s.name for s in self.steps}
        if unknown:
            raise PipelineError(f'--force names unknown steps {sorted(unknown)} '
                                f'(steps: {[s.name for s in self.steps]})')
        self.reuse = dict(reuse or {})
        by_name = {s.name: s for s in self.steps}
        for name, path in self.reuse.items():
            if name not in by_name or by_name[name].kind != 'train':
                raise PipelineError(f'--checkpoint {name}=...: {name!r} is not a train step '
                                    f'(steps: {[s.name for s in self.steps]})')
            if not osp.isfile(path):
                raise PipelineError(f'--checkpoint {name}={path}: file not found')
            if by_name[name].label_out:
                raise PipelineError(f'--checkpoint {name}=...: step {name!r} writes labels '
                                    'while it trains (label_out); a given checkpoint has none')
        if until is not None and until not in by_name:
            raise PipelineError(f'--until {until!r}: no such step '
                                f'(steps: {[s.name for s in self.steps]})')
        self.until = until
        self.progress = progress or (lambda line: print(line, flush=True))
        self.records: Dict[str, StepRecord] = {}

    # ------------------------------------------------------------------ helpers
    def step_dir(self, step: Step) -> str:
        return osp.join(self.work_dir, step.name)

    def _tool(self, name: str) -> str:
        path = osp.join(self.tools_dir, name)
        if not osp.isfile(path):
            raise PipelineError(f'tool {path} not found (--tools-dir)')
        return path

    def expand(self, text: str, step: Step) -> str:
        """``text`` with its placeholders filled in (see :class:`Step`)."""

        def one(m: re.Match) -> str:
            key = m.group(1)
            if key == 'out':
                return self.step_dir(step)
            if key == 'data_root':
                if not self.data_root:
                    raise PipelineError(f'step {step.name}: {{data_root}} needs --data-root')
                return self.data_root
            if key == 'config':
                if not step.config:
                    raise PipelineError(f'step {step.name}: {{config}} without config=')
                return step.config
            if key == 'checkpoint':
                return self.records[step.checkpoint].checkpoint
            what, ref = key.split(':', 1)
            if what == 'dir':
                return osp.join(self.work_dir, ref)
            if what == 'bg_thr':
                thr = self.records[ref].metrics.get('bg_thr')
                if thr is None:
                    raise PipelineError(f'step {step.name}: step {ref} reported no bg_thr (is '
                                        'its evaluator a CAMMetric sweep?)')
                return str(thr)
            value = getattr(self.records[ref],
                            'checkpoint' if what == 'checkpoint' else 'label_dir')
            if not value:
                raise PipelineError(f'step {step.name}: step {ref} left no {what}')
            return value

        return PLACEHOLDER.sub(one, text)

    def _data_args(self) -> List[str]:
        return ['--data-root', self.data_root] if self.data_root else []

    def _checkpoint_of(self, step: Step, options: List[str]) -> List[str]:
        """The CHECKPOINT argument, or nothing when the checkpoint goes to ``options``."""
        if step.checkpoint is None:
            return []
        path = self.records[step.checkpoint].checkpoint
        key = step.checkpoint_key or ('load_from' if step.kind == 'train' else None)
        if key:
            options.append(f'{key}={path}')
            return []
        return [path]

    @staticmethod
    def _options(options: List[str]) -> List[str]:
        # one --cfg-options flag: mmengine's DictAction keeps only the last occurrence
        return ['--cfg-options', *options] if options else []

    # ------------------------------------------------------------------ commands
    def command(self, step: Step, dry: bool = False) -> tuple:
        """(argv, record fields known before running) of one step (``dry``: write
        nothing, e.g. the split file of a label evaluation)."""
        out = self.step_dir(step)
        options: List[str] = [
            f'{k}={self.expand(_option_value(v), step)}'
            for k, v in (step.cfg_options or {}).items()
        ]
        if step.kind == 'eval_labels' and options:
            raise PipelineError(f'step {step.name}: eval_labels takes no cfg_options')
        if step.kind in ('train', 'test', 'labels'):
            options += self.cfg_options
        if step.kind == 'tool':
            cmd = [self.python, step.script] + [self.expand(str(a), step) for a in step.args or []]
            known = dict(label_dir=self.expand(step.label_out, step)) if step.label_out else {}
            return cmd + self._options(options), known
        if step.kind == 'train':
            cmd = [self.python, self._tool('train.py'), step.config, '--work-dir', out]
            cmd += self._data_args()
            if step.labels:
                cmd += ['--pseudo-label-dir', self.records[step.labels].label_dir]
            if last_checkpoint(out):
                cmd += ['--resume']  # killed half way: go on from its last checkpoint
            else:
                self._checkpoint_of(step, options)  # a start point (load_from)
            known = dict(label_dir=self.expand(step.label_out, step)) if step.label_out else {}
            return cmd + self._options(options), known
        if step.kind == 'test':
            metrics = osp.join(out, 'metrics.json')
            cmd = [self.python, self._tool('test.py'), step.config]
            cmd += self._checkpoint_of(step, options)
            cmd += ['--work-dir', out, '--metrics-out', metrics] + self._data_args()
            curve_key = cam_metric_option(step.config)
            if curve_key:
                options.append(f'{curve_key}={osp.join(out, "curve.json")}')
            return cmd + self._options(options), {}
        if step.kind == 'labels':
            label_dir = osp.join(out, 'labels')
            cmd = [self.python, self._tool('generate_pseudo_labels.py'), step.config]
            cmd += self._checkpoint_of(step, options)
            cmd += ['--out-dir', label_dir] + self._data_args()
            thr = step.bg_thr
            if isinstance(thr, str):
                thr = self.records[thr].metrics.get('bg_thr')
                if thr is None:
                    raise PipelineError(f'step {step.name}: step {step.bg_thr} reported no '
                                        'bg_thr (is its evaluator a CAMMetric sweep?)')
            if thr is not None:
                cmd += ['--bg-thr', str(thr)]
            return cmd + self._options(options), dict(label_dir=label_dir)
        # eval_labels
        gt_dir, keys, classes = label_eval_inputs(step.config, self.data_root)
        split = osp.join(out, 'split.txt')
        if not dry:
            atomic_write_text(split, ''.join(k + '\n' for k in keys))
        report = osp.join(out, 'labels_eval.json')
        cmd = [
            self.python,
            self._tool('eval_pseudo_labels.py'), self.records[step.labels].label_dir, gt_dir,
            '--classes', ','.join(classes), '--split', split, '--json', report
        ]
        return cmd, {}

    def _collect(self, step: Step, record: StepRecord) -> None:
        out = self.step_dir(step)
        if step.kind == 'train':
            record.checkpoint = last_checkpoint(out)
            if record.checkpoint is None:
                raise PipelineError(f'step {step.name}: training ended without a checkpoint '
                                    f'in {out} (does the config save one at the end?)')
        if step.kind == 'test':
            record.metrics = _read_json(osp.join(out, 'metrics.json'))
            curve = osp.join(out, 'curve.json')
            if osp.isfile(curve):
                record.metrics['curve'] = _read_json(curve)
        elif step.kind == 'labels' or record.label_dir:
            if not osp.isdir(record.label_dir):
                raise PipelineError(f'step {step.name}: it wrote no label folder '
                                    f'{record.label_dir}')
            record.images = count_labels(record.label_dir)
        elif step.kind == 'eval_labels':
            report = _read_json(osp.join(out, 'labels_eval.json'))
            record.metrics = report
            record.images = report.get('num_images')

    def test_role(self, step: Step, record: StepRecord) -> Optional[str]:
        """``'seeds'`` / ``'final'`` for a test step (see :class:`Step`), else None."""
        if step.kind != 'test':
            return None
        if step.role is not None:
            return step.role
        if 'bg_thr' in record.metrics:
            return 'seeds'
        source = next((s for s in self.steps if s.name == step.checkpoint), None)
        return 'final' if source is not None and source.labels else 'seeds'

    def dry_run(self) -> List[tuple]:
        """[(step, argv)] of the planned steps, with stand-ins for what earlier steps
        would leave (checkpoints, swept thresholds, label folders); runs nothing."""
        saved, out = self.records, []
        self.records = {}
        try:
            for step in self.planned_steps():
                if step.name in self.reuse:
                    cmd = ['(uses', self.reuse[step.name] + ')']
                    record = StepRecord(
                        step.name, step.kind, step.config, checkpoint=self.reuse[step.name])
                elif step.kind == 'eval_labels':
                    try:  # reads the dataset's split: say what is missing, go on
                        cmd, known = self.command(step, dry=True)
                    except (OSError, KeyError, ValueError) as e:
                        cmd, known = [f'(cannot list its images yet: {e})'], {}
                    record = StepRecord(step.name, step.kind, step.config, **known)
                else:
                    cmd, known = self.command(step, dry=True)
                    record = StepRecord(step.name, step.kind, step.config, **known)
                    if step.kind == 'train':
                        record.checkpoint = osp.join(self.step_dir(step), '<last checkpoint>')
                    if step.kind == 'test':
                        record.metrics = dict(bg_thr=f'<bg_thr swept by {step.name}>')
                self.records[step.name] = record
                out.append((step, cmd))
        finally:
            self.records = saved
        return out

    # ------------------------------------------------------------------ run
    def planned_steps(self) -> List[Step]:
        """The steps a run goes through (all, or up to ``until``)."""
        names = [s.name for s in self.steps]
        return self.steps if self.until is None else self.steps[:names.index(self.until) + 1]

    def finished_records(self) -> Dict[str, StepRecord]:
        """The records of the steps finished so far, in order, without running anything
        (stops at the first step not done)."""
        records = {}
        for step in self.planned_steps():
            done_file = osp.join(self.step_dir(step), 'step.json')
            if not osp.isfile(done_file):
                break
            records[step.name] = StepRecord(**_read_json(done_file))
        return records

    def run(self) -> Dict[str, StepRecord]:
        os.makedirs(self.work_dir, exist_ok=True)
        steps = self.planned_steps()
        n = len(self.steps)
        for i, step in enumerate(steps, 1):
            done_file = osp.join(self.step_dir(step), 'step.json')
            if osp.isfile(done_file) and step.name not in self.force:
                self.records[step.name] = StepRecord(**_read_json(done_file))
                self.progress(f'[pipeline] {i}/{n} {step.name}: done before, skipped')
                continue
            if step.name in self.reuse:
                logged = logged_train_seconds(self.reuse[step.name])
                record = StepRecord(
                    step.name,
                    step.kind,
                    step.config,
                    wall_s=logged,
                    checkpoint=self.reuse[step.name],
                    note='checkpoint given with --checkpoint, not trained here' +
                    ('; wall_s read from the log of the run that trained it'
                     if logged is not None else ''))
                atomic_write_json(done_file, asdict(record))
                self.records[step.name] = record
                self.progress(f'[pipeline] {i}/{n} {step.name}: uses {record.checkpoint}')
                continue
            cmd, known = self.command(step)
            log = osp.join(self.step_dir(step), 'log.txt')
            self.progress(f'[pipeline] {i}/{n} {step.name} ({step.kind}): {" ".join(cmd[1:3])}'
                          f' ... (log: {log})')
            rc, wall, rss = run_logged(cmd, log, echo=self.echo)
            if rc != 0:
                raise PipelineError(f'step {step.name} failed (exit {rc}); log {log}; its last '
                                    f'lines:\n{_tail(log)}')
            record = StepRecord(
                step.name,
                step.kind,
                step.config,
                round(wall, 1),
                None if rss is None else round(rss, 1),
                command=cmd,
                **known)
            self._collect(step, record)
            record.role = self.test_role(step, record)
            atomic_write_json(done_file, asdict(record))
            self.records[step.name] = record
            self.progress(f'[pipeline] {i}/{n} {step.name}: finished in {wall:.0f} s' +
                          (f', peak {rss:.0f} MB' if rss else ''))
        return self.records


def count_labels(label_dir: str) -> int:
    """The label PNGs in ``label_dir``: those at its top level (subfolders hold the
    per-image extra maps, e.g. ``confidence/``), or, where keys are nested paths and the
    top level has none, every PNG below it."""
    top = sum(f.endswith('.png') for f in os.listdir(label_dir))
    if top:
        return top
    return sum(f.endswith('.png') for _, _, files in os.walk(label_dir) for f in files)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise PipelineError(f'cannot read {path}: {e}') from e


def cam_metric_option(config: str) -> Optional[str]:
    """The ``--cfg-options`` key of the test evaluator's CAMMetric ``out_file`` (its
    sweep curve): ``test_evaluator.out_file``, ``test_evaluator.<i>.out_file`` for the
    first CAMMetric of a list of evaluators, None without one."""
    evaluator = Config.fromfile(config).get('test_evaluator')
    is_list = isinstance(evaluator, (list, tuple))
    for i, e in enumerate(evaluator if is_list else [evaluator]):
        if isinstance(e, dict) and str(e.get('type', '')).split('.')[-1] == 'CAMMetric':
            return f'test_evaluator.{i}.out_file' if is_list else 'test_evaluator.out_file'
    return None


def label_eval_inputs(config: str, data_root: Optional[str] = None) -> tuple:
    """(GT mask folder, output keys, class names) of the images a pseudo-label config
    writes labels for (the dataset tools/generate_pseudo_labels.py builds), so that the
    labels are scored on exactly the images they were written for.

    Raises:
        PipelineError: the dataset names no ``seg_map_path`` (no masks to score against).
    """
    from mmengine.registry import init_default_scope

    from mmwsss.apis.pseudo_labels import build_pseudo_label_dataset, output_keys
    from mmwsss.utils.config_utils import load_config
    cfg = load_config(config, data_root=data_root)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    dataset = build_pseudo_label_dataset(cfg)[0]
    gt_dir = dataset.data_prefix.get('seg_map_path')
    if not gt_dir or not osp.isdir(gt_dir):
        raise PipelineError(f'{config}: the pseudo-label dataset has no mask folder '
                            f'(data_prefix.seg_map_path = {gt_dir!r}) to score labels against')
    return gt_dir, output_keys(dataset), list(dataset.metainfo['classes'])
