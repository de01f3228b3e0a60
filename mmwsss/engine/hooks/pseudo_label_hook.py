"""Pseudo labels written by the training run itself (after training or at chosen iterations).

:class:`PseudoLabelHook` calls :func:`mmwsss.apis.pseudo_labels.write_pseudo_labels`,
the code of ``tools/generate_pseudo_labels.py``, with the model being trained: the same
refine chain (``cfg.pseudo_label_cfg``), dataloader (``cfg.pseudo_label_dataloader``),
atomic writes, stale-temp cleanup, skipping of finished images and per-rank shares.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.hooks import Hook

from mmwsss.registry import DATASETS, HOOKS
from mmwsss.utils.io import atomic_write_json
from .cam_hook_utils import cam_prediction, check_branches, resolve_loader_cfg, unwrap

#: the hidden file that names the weights and settings a label folder was written with
SOURCE_FILE = '.pseudo_label_source.json'


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of the model's state dict (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    for name, value in unwrap(model).state_dict().items():
        value = value.detach().cpu().contiguous()
        h.update(f'{name}:{value.dtype}:{tuple(value.shape)};'.encode())
        h.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Write the pseudo labels of the config's refine chain during / after training.

    Output layout, checks and resumability are those of
    ``tools/generate_pseudo_labels.py`` (see :mod:`mmwsss.apis.pseudo_labels`); the
    PNGs are identical to the tool's on the same weights. Every rank writes its share,
    barriers as in the tool. A folder is tagged with the weights and settings it was
    written from (hidden ``.pseudo_label_source.json``): a resumed run with the same
    weights skips the finished images; labels of other weights (a new training in
    the same work dir) are removed and rewritten, never mixed.

    Args:
        out_dir: folder of the final labels (default ``<work_dir>/pseudo_labels``);
            labels at iteration N go to ``<out_dir>_iter_<N>``.
        after_train: write after the last iteration.
        at_iters: iterations (counted from 1) after which to write as well.
        dataloader: dataloader config or name (default ``'pseudo_label'``).
        pseudo_label_cfg: refine chain settings (default ``cfg.pseudo_label_cfg``).
        bg_thr: overrides the chain's background threshold.
        bg_thr_from: take the threshold, at each write, from this message-hub scalar
            instead, e.g. ``'cam/bg_thr'``: the best threshold of the sweep a
            :class:`CAMEvalHook` (prefix ``cam``) ran on the same weights just before
            (both hooks run at the end of training, the evaluation first). Its sweep
            scores the hook's ``cam_cfg`` CAMs (often single-scale), so the threshold is
            that sweep's best, not necessarily the best for the labels' own CAMs.
        no_refine: raw CAM labels (no refiners).
        save_cams: also write ``cams/<key>.npz``.
        cam_head: CAM head of a :class:`SingleStageWSSS` (default: its
            ``test_cfg.cam_head``); the model predicts CAMs for the pass.
        progress: show the tool's progress bar on rank 0.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 out_dir: Optional[str] = None,
                 after_train: bool = True,
                 at_iters: Sequence[int] = (),
                 dataloader: Union[str, dict] = 'pseudo_label',
                 pseudo_label_cfg: Optional[dict] = None,
                 bg_thr: Optional[float] = None,
                 bg_thr_from: Optional[str] = None,
                 no_refine: bool = False,
                 save_cams: bool = False,
                 cam_head: Optional[str] = None,
                 progress: bool = False) -> None:
        self.out_dir = out_dir
        self.write_after_train = after_train
        self.at_iters = sorted({int(i) for i in at_iters})
        self.dataloader_cfg = dataloader
        self.pseudo_label_cfg = pseudo_label_cfg
        if bg_thr is not None and bg_thr_from is not None:
            raise ValueError('PseudoLabelHook: give bg_thr or bg_thr_from, not both')
        self.bg_thr = bg_thr
        self.bg_thr_from = bg_thr_from
        self.no_refine = no_refine
        self.save_cams = save_cams
        self.cam_head = cam_head
        self.progress = progress
        self.summaries: Dict[str, dict] = {}

    def before_train(self, runner) -> None:
        from mmwsss.apis.pseudo_labels import build_refine_chain
        check_branches(runner.model, None if self.cam_head is None else [self.cam_head],
                       type(self).__name__)
        self.out_dir = self.out_dir or osp.join(runner.work_dir, 'pseudo_labels')
        self.loader_cfg = resolve_loader_cfg(runner.cfg, self.dataloader_cfg, type(self).__name__)
        pl_cfg = self.pseudo_label_cfg
        if pl_cfg is None:
            pl_cfg = runner.cfg.get('pseudo_label_cfg', None) or {}
        self.pl_cfg = dict(pl_cfg)
        # built now: a wrong refiner fails before training, not after it
        self.chain = build_refine_chain(
            runner.cfg, no_refine=self.no_refine, bg_thr=self.bg_thr, pseudo_label_cfg=self.pl_cfg)
        self.extra_maps = dict(self.pl_cfg.get('extra_maps', {}))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        if step in self.at_iters:
            self.write(runner, f'{self.out_dir}_iter_{step}')

    def after_train(self, runner) -> None:
        if self.write_after_train:
            self.write(runner, self.out_dir)

    def _source(self, runner) -> dict:
        return dict(
            weights_sha256=weights_fingerprint(runner.model),
            pseudo_label_cfg=repr(self.pl_cfg),
            bg_thr=self.chain.bg_thr,
            no_refine=self.no_refine,
            cam_head=self.cam_head)

    def _claim(self, runner, out_dir: str, dataset) -> None:
        """Rank 0: drop labels of other weights / settings and tag the folder."""
        from mmwsss.apis.pseudo_labels import output_files, output_keys
        rank, world_size = get_dist_info()
        if rank == 0:
            source = self._source(runner)
            os.makedirs(out_dir, exist_ok=True)
            marker = osp.join(out_dir, SOURCE_FILE)
            old = None
            if osp.isfile(marker):
                with open(marker, encoding='utf-8') as f:
                    old = json.load(f)
            if old != source:
                removed = 0
                for key in output_keys(dataset):
                    for path in output_files(out_dir, key, True, self.extra_maps.values()):
                        if osp.isfile(path):
                            os.remove(path)
                            removed += 1
                if removed:
                    runner.logger.warning(
                        f'[pseudo labels] {out_dir} held {removed} file(s) written from other '
                        'weights or settings; removed, writing them again')
                atomic_write_json(marker, source, indent=1)
        if world_size > 1:
            barrier()

    def write(self, runner, out_dir: str) -> dict:
        """Write (the missing) pseudo labels of the current weights to ``out_dir``."""
        from mmwsss.apis.pseudo_labels import write_pseudo_labels
        if self.bg_thr_from is not None:
            scalar = runner.message_hub.get_scalar(self.bg_thr_from) \
                if self.bg_thr_from in runner.message_hub.log_scalars else None
            if scalar is None:
                raise KeyError(f'PseudoLabelHook: bg_thr_from={self.bg_thr_from!r}, but no hook '
                               'logged it before this write (add a CAMEvalHook whose '
                               'evaluation runs at the same iteration, eval_at_end=True)')
            self.chain.bg_thr = float(scalar.current())
            runner.logger.info(f'[pseudo labels] bg_thr {self.chain.bg_thr} from '
                               f'{self.bg_thr_from}')
        dataset = DATASETS.build(self.loader_cfg['dataset'])
        self._claim(runner, out_dir, dataset)
        with cam_prediction(runner.model, self.cam_head):
            summary = write_pseudo_labels(
                runner.model,
                self.chain,
                dataset,
                out_dir,
                loader_cfg=self.loader_cfg,
                save_cams=self.save_cams,
                extra_maps=self.extra_maps,
                log=runner.logger.info,
                progress=self.progress)
        runner.logger.info(f"[pseudo labels] written {summary['written']}, skipped "
                           f"{summary['skipped']} (already done), total {summary['total']} "
                           f'-> {out_dir}')
        self.summaries[out_dir] = summary
        return summary
