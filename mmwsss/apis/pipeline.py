"""The whole WSSS recipe of a method config, as steps run by the repository's tools.

A method config declares its recipe in ``wsss_recipe``; the compact form names the
configs of the usual stages, each ``'this'`` (the method config itself), a path, or
None (no such stage)::

    wsss_recipe = dict(
        stage1='this',            # train the CAM model (None: training-free method)
        seeds='this',             # tools/test.py on the training images: seed mIoU + sweep
        pseudo_labels='this',     # tools/generate_pseudo_labels.py (its pseudo_label_cfg)
        bg_thr='seeds',           # 'config' (pseudo_label_cfg.bg_thr), 'seeds' (the sweep's
                                  # best threshold) or a number
        stage2='configs/cam/deeplabv3plus_...py',  # plain mmseg on the pseudo labels
    )

It expands to the step list ``stage1 -> seeds -> pseudo_labels -> label_eval -> stage2
-> stage2_val``; a recipe may instead give ``steps=[dict(name, kind, config,
checkpoint=<step>, labels=<step>, bg_thr=<step>|float, checkpoint_key=KEY,
cfg_options={key: value}, role='seeds'|'final')]`` with kinds ``train``, ``test``,
``labels`` and ``eval_labels`` for longer chains (IRN after CAM, ...).

Each step runs one tool in a subprocess (its own memory, killable), logs to
``<work_dir>/<step>/log.txt`` and, once it succeeded, writes ``<work_dir>/<step>/step.json``
atomically; a step whose ``step.json`` exists is skipped, a training step killed half
way resumes from its latest checkpoint, a pseudo-label step from the images it has
written. Wall time and the subprocess's peak resident memory are recorded per step.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.config import Config

from mmwsss.utils.io import atomic_write_json, atomic_write_text

STEP_KINDS = ('train', 'test', 'labels', 'eval_labels', 'tool')
# placeholders of a step's args / cfg_options values / label_out, filled at run time
PLACEHOLDER = re.compile(r'\{(out|data_root|config|checkpoint|(?:dir|checkpoint|labels|bg_thr):'
                         r'[A-Za-z0-9_.-]+)\}')
BG_THR_MODES = ('config', 'seeds')


class PipelineError(RuntimeError):
    """A step failed or the recipe is malformed (the message names the step / key)."""


@dataclass
class Step:
    """One step of a recipe.

    Attributes:
        name: unique step name (its folder under the work dir).
        kind: one of :data:`STEP_KINDS`.
        config: config path (``train`` / ``test`` / ``labels``); None for ``eval_labels``.
        checkpoint: name of the ``train`` step whose last checkpoint this step uses.
        labels: name of the ``labels`` step whose folder this step reads (a stage-2
            ``train`` gets it as ``--pseudo-label-dir``; ``eval_labels`` scores it).
        bg_thr: for ``labels``: None (the config's), a number, or the name of a
            ``test`` step whose swept ``bg_thr`` is used.
        checkpoint_key: pass the checkpoint as ``--cfg-options KEY=PATH`` instead of
            the tools' CHECKPOINT argument (a stage that reads an earlier stage's
            weights through its model config, e.g. ``model.finetuned.checkpoint``; a
            ``train`` step with a checkpoint starts from it via ``load_from`` unless
            this says otherwise).
        cfg_options: extra ``--cfg-options`` of this step's tool, ``{key: value}``
            (e.g. a test mode of the same config); values go through ``str()``, lists
            and tuples as mmengine's ``[a,b]`` syntax; placeholders as in ``args``.
        script: for ``tool``: a script (path from the repository root, e.g.
            ``tools/pbip_prototypes.py``) run as ``python SCRIPT *args``: a method's
            own offline step (prototype bank, SAM masks, prompt selection, ...).
        args: for ``tool``: its arguments; placeholders ``{out}`` (this step's folder),
            ``{data_root}``, ``{config}``, ``{checkpoint}`` (of ``checkpoint=``),
            ``{dir:STEP}``, ``{checkpoint:STEP}``, ``{labels:STEP}``, ``{bg_thr:STEP}``
            (an earlier step's folder / trained checkpoint / label folder / swept
            background threshold) are filled in at run time.
        label_out: for ``tool`` and ``train``: the label folder it writes (placeholders
            allowed; a training whose ``PseudoLabelHook`` writes the labels:
            ``'{out}/pseudo_labels'``), so that later steps take ``labels=`` from it.
        role: what a ``test`` step measures, for the summary: ``'seeds'`` (CAM seeds
            on the training images), ``'final'`` (a segmenter on the val images, the
            stage-2 column) or ``'reference'`` (shown in the step table only, e.g. the
            same segmenter trained on ground truth). None: a test whose metrics carry a
            swept ``bg_thr``, or whose checkpoint comes from a train step without pseudo
            labels, is seeds; one on a model trained on pseudo labels is final.
    """
    name: str
    kind: str
    config: Optional[str] = None
    checkpoint: Optional[str] = None
    labels: Optional[str] = None
    bg_thr: Union[None, float, str] = None
    checkpoint_key: Optional[str] = None
    cfg_options: Optional[dict] = None
    role: Optional[str] = None
    script: Optional[str] = None
    args: Optional[List[str]] = None
    label_out: Optional[str] = None


TEST_ROLES = ('seeds', 'final', 'reference')


def _resolve(value: Optional[str], this: str, key: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PipelineError(f'wsss_recipe.{key} must be a config path, "this" or None, '
                            f'got {value!r}')
    return this if value == 'this' else value


def recipe_steps(cfg: Config, config_path: str) -> List[Step]:
    """The steps of ``cfg.wsss_recipe`` (compact or ``steps`` form), checked.

    Raises:
        PipelineError: no recipe, an unknown key / kind, a reference to a step that
            does not come earlier, a config file that does not exist.
    """
    recipe = cfg.get('wsss_recipe')
    if recipe is None:
        raise PipelineError(f'{config_path} has no wsss_recipe: add one (see '
                            'mmwsss/apis/pipeline.py) to run it with tools/run_pipeline.py')
    recipe = dict(recipe)
    if 'steps' in recipe:
        extra = set(recipe) - {'steps'}
        if extra:
            raise PipelineError(f'{config_path}: wsss_recipe with steps takes no other keys, '
                                f'got {sorted(extra)}')
        steps = []
        for i, item in enumerate(recipe['steps']):
            item = dict(item)
            bad = set(item) - set(Step.__dataclass_fields__)
            if bad:
                raise PipelineError(f'{config_path}: wsss_recipe.steps[{i}] has unknown '
                                    f'keys {sorted(bad)}')
            if item.get('config') == 'this':
                item['config'] = config_path
            steps.append(Step(**item))
    else:
        known = {'stage1', 'seeds', 'pseudo_labels', 'bg_thr', 'stage2'}
        bad = set(recipe) - known
        if bad:
            raise PipelineError(f'{config_path}: unknown wsss_recipe keys {sorted(bad)} '
                                f'(known: {sorted(known)})')
        stage1 = _resolve(recipe.get('stage1', 'this'), config_path, 'stage1')
        seeds = _resolve(recipe.get('seeds', 'this'), config_path, 'seeds')
        labels = _resolve(recipe.get('pseudo_labels', 'this'), config_path, 'pseudo_labels')
        stage2 = _resolve(recipe.get('stage2'), config_path, 'stage2')
        bg_thr = recipe.get('bg_thr', 'config')
        if isinstance(bg_thr, str) and bg_thr not in BG_THR_MODES:
            raise PipelineError(f"{config_path}: wsss_recipe.bg_thr must be a number, "
                                f"'config' or 'seeds', got {bg_thr!r}")
        ckpt = 'stage1' if stage1 else None
        steps = []
        if stage1:
            steps.append(Step('stage1', 'train', stage1))
        if seeds:
            steps.append(Step('seeds', 'test', seeds, checkpoint=ckpt, role='seeds'))
        if labels:
            if bg_thr == 'seeds' and not seeds:
                raise PipelineError(f"{config_path}: wsss_recipe.bg_thr='seeds' needs a "
                                    'seeds stage')
            thr = {'config': None, 'seeds': 'seeds'}.get(bg_thr, bg_thr) \
                if isinstance(bg_thr, str) else float(bg_thr)
            steps.append(Step('pseudo_labels', 'labels', labels, checkpoint=ckpt, bg_thr=thr))
            steps.append(Step('label_eval', 'eval_labels', labels, labels='pseudo_labels'))
        if stage2:
            if not labels:
                raise PipelineError(f'{config_path}: wsss_recipe.stage2 needs pseudo_labels')
            steps.append(Step('stage2', 'train', stage2, labels='pseudo_labels'))
            steps.append(Step('stage2_val', 'test', stage2, checkpoint='stage2', role='final'))
    check_steps(steps, config_path)
    return steps


def check_steps(steps: Sequence[Step], where: str) -> None:
    """Names unique, kinds known, references to earlier steps of the right kind,
    config files present."""
    seen: Dict[str, Step] = {}
    for step in steps:
        if not re.fullmatch(r'[A-Za-z0-9_.-]+', step.name or ''):
            raise PipelineError(f'{where}: step name {step.name!r} must be a plain folder name')
        if step.name in seen:
            raise PipelineError(f'{where}: two steps are named {step.name!r}')
        if step.kind not in STEP_KINDS:
            raise PipelineError(f'{where}: step {step.name!r} has kind {step.kind!r} '
                                f'(one of {STEP_KINDS})')
        if step.kind == 'tool':
            if not step.script or not osp.isfile(step.script):
                raise PipelineError(f'{where}: tool step {step.name!r}: script '
                                    f'{step.script!r} not found')
            if step.args is not None and not isinstance(step.args, (list, tuple)):
                raise PipelineError(f'{where}: tool step {step.name!r}: args must be a list')
        elif step.script or step.args:
            raise PipelineError(f'{where}: step {step.name!r}: script / args are for tool '
                                'steps')
        if step.label_out and step.kind not in ('tool', 'train'):
            raise PipelineError(f'{where}: step {step.name!r}: label_out is for tool and '
                                'train steps')
        if step.kind not in ('eval_labels', 'tool') or step.config:
            if not step.config or not osp.isfile(step.config):
                raise PipelineError(f'{where}: step {step.name!r}: config file '
                                    f'{step.config!r} not found')
        if step.cfg_options is not None and not isinstance(step.cfg_options, dict):
            raise PipelineError(f'{where}: step {step.name!r}: cfg_options must be a dict '
                                f'{{key: value}}, got {step.cfg_options!r}')
        refs = [('checkpoint', step.checkpoint), ('labels', step.labels)]
        texts = list(step.args or []) + list((step.cfg_options or {}).values())
        texts += [step.label_out] if step.label_out else []
        for text in texts:
            for m in PLACEHOLDER.finditer(str(text)):
                if ':' in m.group(1):
                    refs.append(tuple(m.group(1).split(':', 1)))
                elif m.group(1) == 'checkpoint' and step.checkpoint is None:
                    raise PipelineError(f'{where}: step {step.name!r} uses {{checkpoint}} '
                                        'without checkpoint=<train step>')
        for what, ref in refs:
            if ref is None:
                continue
            ok = ref in seen and (what == 'dir' or
                                  (what == 'checkpoint' and seen[ref].kind == 'train') or
                                  (what == 'labels' and _makes_labels(seen[ref])) or
                                  (what == 'bg_thr' and seen[ref].kind == 'test'))
            if not ok:
                kind = {
                    'checkpoint': 'train',
                    'labels': 'labels',
                    'dir': '',
                    'bg_thr': 'test'
                }[what]
                raise PipelineError(f'{where}: step {step.name!r} refers to {ref!r}, which is '
                                    f'not an earlier {kind} step'.replace('  ', ' '))
        if step.kind == 'eval_labels' and step.labels is None:
            raise PipelineError(f'{where}: eval_labels step {step.name!r} needs labels=<step>')
        if isinstance(step.bg_thr, str) and (step.bg_thr not in seen
                                             or seen[step.bg_thr].kind != 'test'):
            raise PipelineError(f'{where}: step {step.name!r} takes bg_thr from '
                                f'{step.bg_thr!r}, which is not an earlier test step')
        if step.role is not None and (step.kind != 'test' or step.role not in TEST_ROLES):
            raise PipelineError(f'{where}: step {step.name!r}: role {step.role!r} is for test '
                                f'steps, one of {TEST_ROLES}')
        seen[step.name] = step


def _makes_labels(step: Step) -> bool:
    return step.kind == 'labels' or (step.kind in ('tool', 'train') and bool(step.label_out))


def _option_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_option_value(v) for v in value) + ']'
    return str(value)


@dataclass
class StepRecord:
    """What a finished step left behind (``<work_dir>/<step>/step.json``)."""
    name: str
    kind: str
    config: Optional[str]
    wall_s: Optional[float] = 0.0
    peak_rss_mb: Optional[float] = None
    checkpoint: Optional[str] = None
    label_dir: Optional[str] = None
    metrics: dict = field(default_factory=dict)
    images: Optional[int] = None
    command: List[str] = field(default_factory=list)
    note: Optional[str] = None
    role: Optional[str] = None


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


# ---------------------------------------------------------------------- summary
SUMMARY_COLUMNS = ('seed mIoU', 'bg_thr', 'label mIoU', 'label precision', 'label recall',
                   'stage-2 mIoU', 'train s', 'peak MB', 'label img/s')


def summarize(records: Dict[str, StepRecord]) -> dict:
    """The headline numbers of a run (None where a stage does not exist)."""

    def metric(kind_names, key):
        for name in kind_names:
            rec = records.get(name)
            if rec is not None and key in rec.metrics:
                value = rec.metrics[key]
                return round(value, 2) if isinstance(value, float) else value
        return None

    tests = [r for r in records.values() if r.kind == 'test']

    def role(r: StepRecord) -> str:  # records written before roles existed: by the sweep
        return r.role or ('seeds' if 'bg_thr' in r.metrics else 'final')

    seeds = [r.name for r in tests if role(r) == 'seeds']
    finals = [r.name for r in tests if role(r) == 'final']
    evals = [r.name for r in records.values() if r.kind == 'eval_labels']
    labels = [r for r in records.values() if r.kind == 'labels']
    trains = [r for r in records.values() if r.kind == 'train']
    rss = [r.peak_rss_mb for r in records.values() if r.peak_rss_mb is not None]
    img_s = None
    if labels and labels[-1].images and labels[-1].wall_s:
        img_s = round(labels[-1].images / labels[-1].wall_s, 2)
    return {
        'seed mIoU':
        metric(seeds[:1], 'mIoU'),
        'bg_thr':
        metric(seeds[:1], 'bg_thr'),
        'label mIoU':
        metric(evals[-1:], 'mIoU'),
        'label precision':
        metric(evals[-1:], 'mPrecision'),
        'label recall':
        metric(evals[-1:], 'mRecall'),
        'stage-2 mIoU':
        metric(finals[-1:], 'mIoU'),
        # unknown when a checkpoint was reused instead of trained here
        'train s':
        round(sum(r.wall_s for r in trains), 1) if trains and all(r.wall_s is not None
                                                                  for r in trains) else None,
        'peak MB':
        max(rss) if rss else None,
        'label img/s':
        img_s,
    }


def _round(value):
    return round(value, 2) if isinstance(value, float) else value


def steps_table(records: Dict[str, StepRecord]) -> str:
    """Markdown table: one row per step."""
    lines = ['| step | kind | wall s | peak MB | result |', '|---|---|---|---|---|']
    for rec in records.values():
        keys = [k for k in ('mIoU', 'bg_thr', 'mPrecision', 'mRecall') if k in rec.metrics]
        result = ', '.join(f'{k} {_round(rec.metrics[k])}' for k in keys)
        if rec.checkpoint:
            result = result or rec.checkpoint
        if rec.label_dir:
            result = f'{rec.images} labels in {rec.label_dir}'
        lines.append(f'| {rec.name} | {rec.kind} | {rec.wall_s} | {rec.peak_rss_mb} | '
                     f'{result} |')
    return '\n'.join(lines)


def write_summary(work_dir: str, config: str, records: Dict[str, StepRecord]) -> dict:
    """``summary.json`` and ``summary.md`` in ``work_dir`` (atomic); returns the JSON."""
    summary = dict(
        config=config, summary=summarize(records), steps={
            k: asdict(v)
            for k, v in records.items()
        })
    atomic_write_json(osp.join(work_dir, 'summary.json'), summary)
    head = summary['summary']
    md = (f'# {osp.basename(config)}\n\n| ' + ' | '.join(SUMMARY_COLUMNS) + ' |\n|' +
          '---|' * len(SUMMARY_COLUMNS) + '\n| ' +
          ' | '.join('—' if head[c] is None else str(head[c])
                     for c in SUMMARY_COLUMNS) + ' |\n\n' + steps_table(records) + '\n')
    atomic_write_text(osp.join(work_dir, 'summary.md'), md)
    return summary
