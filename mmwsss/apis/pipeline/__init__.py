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
from .recipe import (BG_THR_MODES, PLACEHOLDER, STEP_KINDS, TEST_ROLES, PipelineError, Step,
                     StepRecord, check_steps, recipe_steps)
from .runner import (PipelineRunner, cam_metric_option, count_labels, label_eval_inputs,
                     last_checkpoint, logged_train_seconds, run_logged)
from .summary import SUMMARY_COLUMNS, steps_table, summarize, write_summary

__all__ = [
    'BG_THR_MODES', 'PLACEHOLDER', 'STEP_KINDS', 'TEST_ROLES', 'PipelineError', 'Step',
    'StepRecord', 'check_steps', 'recipe_steps', 'PipelineRunner', 'cam_metric_option',
    'count_labels', 'label_eval_inputs', 'last_checkpoint', 'logged_train_seconds', 'run_logged',
    'SUMMARY_COLUMNS', 'steps_table', 'summarize', 'write_summary'
]
