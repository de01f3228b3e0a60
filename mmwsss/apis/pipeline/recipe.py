"""Recipe parsing: the steps a method config's ``wsss_recipe`` declares, checked before
anything runs (see :mod:`mmwsss.apis.pipeline`), and the record a finished step leaves."""
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import Config

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
                            'docs/en/pipeline.md) to run it with tools/run_pipeline.py')
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
