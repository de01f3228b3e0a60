"""CAM seed mIoU during training (the number ToCo's / DuPL's training scripts report).

:class:`CAMEvalHook` scores the model's CAM seeds with :class:`CAMMetric` (the
background-threshold sweep) on a dataloader of the config (default: the training
images with their masks, ``pseudo_label_dataloader``) every ``interval`` iterations
and after the last one, through the model's own predict path (``test_step``: the same
multi-scale / flip / normalisation of its ``test_cfg`` as ``tools/test.py``), so its
number is the one ``tools/test.py`` gives for the same checkpoint on the same split.
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook

from mmwsss.registry import HOOKS, METRICS
from .cam_hook_utils import cam_prediction, check_branches, resolve_loader_cfg
from .checkpoint_hook import ATOMIC_BACKEND, _is_local

METRIC_KEYS = ('mIoU', 'mPrecision', 'mRecall', 'aAcc', 'bg_thr')


@HOOKS.register_module()
class CAMEvalHook(Hook):
    """CAM seed mIoU (background-threshold sweep) every N iterations and at the end.

    For each CAM branch the hook runs the model's ``test_step`` over the dataloader
    (each rank its share of a ``DefaultSampler``), feeds :class:`CAMMetric`, which
    gathers the per-image count tables on rank 0 and broadcasts the result, and logs
    ``<prefix>/mIoU``, ``mPrecision``, ``mRecall``, ``aAcc``, ``bg_thr`` (with a
    branch: ``<prefix>/<branch>/mIoU`` ...) to the logger, the message hub
    (``update_scalar``) and the visualizer backends (``add_scalars`` at step
    ``iter + 1``: scalars.json, TensorBoard, W&B as configured).

    Args:
        interval: evaluate after every ``interval`` training iterations (<= 0:
            only at the end).
        dataloader: a dataloader config or the name of one of the config's:
            ``'pseudo_label'`` (default; the training images with masks, the WSSS
            seed protocol), ``'test'``, ``'val'``, ``'train'``. It must load the
            masks (``LoadWSSSAnnotations``).
        branches: CAM head names of a :class:`SingleStageWSSS` (``test_cfg.cam_head``
            values) to score one after the other; None scores the model's own CAM
            predict path once. A model with ``predict_source`` predicts CAMs for
            the evaluation whatever its ``test_cfg`` says.
        thresholds: the sweep's background thresholds (CAMMetric's default
            0.05 ... 0.95 when None).
        bg_thr: score one fixed threshold instead of the sweep.
        cam_cfg: CAM inference settings used for the evaluation instead of the
            model's (``dict(scales=[1.0], flip=False)``: single-scale seeds, a
            fraction of the cost of a multi-scale + flip ``test_cfg``); the number
            is then that of ``tools/test.py`` with the same settings in
            ``model.test_cfg`` (``model.test_cfg.cam`` for SingleStageWSSS).
        metric_cfg: other :class:`CAMMetric` arguments (``ignore_band``,
            ``exclude_background``, ...).
        eval_at_end: also evaluate after the last iteration (when the interval
            does not fall on it).
        save_best: keep the checkpoint of the best score: True (the first
            branch's mIoU), or a logged key (``'cam/aux/mIoU'``). The file
            ``best_<key>_iter_<N>.pth`` (weights and message hub, no optimizer) is
            written atomically to ``out_dir`` and the previous best removed; the
            best score survives a resume (message hub runtime info).
        rule: ``'greater'`` or ``'less'``; a tie keeps the earlier checkpoint.
        out_dir: folder of the best checkpoint (default: the work dir).
        prefix: tag prefix of the logged scalars.

    Example::

        custom_hooks = [dict(type='CAMEvalHook', interval=100, save_best=True)]
    """

    priority = 'VERY_LOW'  # after the scheduler step and the periodic checkpoint

    def __init__(self,
                 interval: int = 1000,
                 dataloader: Union[str, dict] = 'pseudo_label',
                 branches: Optional[Sequence[str]] = None,
                 thresholds: Optional[Sequence[float]] = None,
                 bg_thr: Optional[float] = None,
                 cam_cfg: Optional[dict] = None,
                 metric_cfg: Optional[dict] = None,
                 eval_at_end: bool = True,
                 save_best: Union[bool, str] = False,
                 rule: str = 'greater',
                 out_dir: Optional[str] = None,
                 prefix: str = 'cam') -> None:
        if rule not in ('greater', 'less'):
            raise ValueError(f"rule must be 'greater' or 'less', got {rule!r}")
        self.interval = int(interval)
        self.dataloader_cfg = dataloader
        self.branches = None if branches is None else list(branches)
        if self.branches is not None and not self.branches:
            raise ValueError('branches is empty; give None for the model\'s CAMs')
        self.cam_cfg = dict(cam_cfg or {})
        self.metric_cfg = dict(metric_cfg or {})
        if thresholds is not None:
            self.metric_cfg['thresholds'] = list(thresholds)
        if bg_thr is not None:
            self.metric_cfg['bg_thr'] = float(bg_thr)
        self.eval_at_end = eval_at_end
        self.prefix = prefix
        if save_best is True:
            save_best = self.tag(None if self.branches is None else self.branches[0], 'mIoU')
        self.save_best = save_best or None
        self.rule = rule
        self.out_dir = out_dir
        self.loader = None
        self.last_metrics: Dict[str, float] = {}

    # ---------------------------------------------------------------- names
    def tag(self, branch: Optional[str], key: str) -> str:
        return '/'.join(p for p in (self.prefix, branch, key) if p)

    def tags(self) -> List[str]:
        return [self.tag(b, k) for b in (self.branches or [None]) for k in METRIC_KEYS]

    @property
    def _best_score_key(self) -> str:
        return f'{self.prefix}_best_score'

    @property
    def _best_ckpt_key(self) -> str:
        return f'{self.prefix}_best_ckpt'

    # ---------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        check_branches(runner.model, self.branches, type(self).__name__)
        if self.save_best is not None and self.save_best not in self.tags():
            raise KeyError(f'CAMEvalHook: save_best={self.save_best!r} is not a logged key; '
                           f'choose one of {self.tags()}')
        cfg = resolve_loader_cfg(runner.cfg, self.dataloader_cfg, type(self).__name__)
        self.loader = runner.build_dataloader(cfg, seed=runner.seed)
        self.out_dir = self.out_dir or runner.work_dir

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        due = self.interval > 0 and self.every_n_train_iters(runner, self.interval)
        if due or (self.eval_at_end and self.is_last_train_iter(runner)):
            self.evaluate(runner)

    # ---------------------------------------------------------------- work
    def _score(self, runner, branch: Optional[str]) -> Dict[str, float]:
        metric = METRICS.build(dict(type='CAMMetric', **self.metric_cfg))
        evaluator = Evaluator([metric])
        evaluator.dataset_meta = getattr(self.loader.dataset, 'metainfo', None)
        with cam_prediction(runner.model, branch, self.cam_cfg), torch.no_grad():
            for data in self.loader:
                outputs = runner.model.test_step(data)
                evaluator.process(data_samples=outputs, data_batch=data)
        # every rank calls evaluate: CAMMetric's results are gathered (collect_results)
        # and the metrics broadcast, so all ranks log and decide on the same numbers
        return evaluator.evaluate(len(self.loader.dataset))

    def evaluate(self, runner) -> Dict[str, float]:
        """Score every branch now; log and (optionally) keep the best checkpoint."""
        step = runner.iter + 1
        start = time.perf_counter()
        metrics: Dict[str, float] = {}
        for branch in self.branches or [None]:
            for key, value in self._score(runner, branch).items():
                metrics[self.tag(branch, key)] = float(value)
        for key, value in metrics.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(metrics, step=step)  # master only
        seconds = time.perf_counter() - start
        runner.logger.info(f'CAM seeds after iteration {step} ({seconds:.1f} s): ' +
                           ', '.join(f'{k}: {v:.2f}' for k, v in metrics.items()))
        self.last_metrics = metrics
        if self.save_best is not None:
            self._save_best(runner, metrics, step)
        return metrics

    def _better(self, score: float, best: Optional[float]) -> bool:
        if best is None:
            return True
        return score > best if self.rule == 'greater' else score < best

    def _save_best(self, runner, metrics: Dict[str, float], step: int) -> None:
        score = metrics[self.save_best]
        hub = runner.message_hub
        best = hub.get_info(self._best_score_key)
        if not self._better(score, best):
            return
        old = hub.get_info(self._best_ckpt_key)
        name = f"best_{self.save_best.replace('/', '_')}_iter_{step}.pth"
        path = osp.join(self.out_dir, name)
        # recorded before saving, so the best checkpoint itself knows it is the best
        hub.update_info(self._best_score_key, score)
        hub.update_info(self._best_ckpt_key, path)
        backend_args = dict(backend=ATOMIC_BACKEND) if _is_local(self.out_dir) else None
        runner.save_checkpoint(
            self.out_dir,
            name,
            save_optimizer=False,
            save_param_scheduler=False,
            by_epoch=False,
            backend_args=backend_args)
        if is_main_process() and old and old != path and osp.isfile(old):
            os.remove(old)
        runner.logger.info(f'best {self.save_best} {score:.2f} at iteration {step}: {path}')
