"""CAM overlays of a few fixed images into the visualizer backends while training."""
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmwsss.registry import DATASETS, HOOKS
from mmwsss.visualization.cam_overlay import draw_cam_samples
from .cam_hook_utils import cam_prediction, check_branches, resolve_loader_cfg


@HOOKS.register_module()
class CAMVisualizationHook(Hook):
    """Every N iterations, the CAMs of fixed images drawn as in
    ``tools/analysis_tools/visualize_cams.py`` (:func:`draw_cam_samples`: photo, then
    one JET overlay per labelled class, ground truth outlined), sent to
    ``runner.visualizer.add_image`` (LocalVisBackend: ``vis_image/<name>_<step>.png``;
    TensorBoard / W&B as configured), so a user watches the CAMs grow.

    Rank 0 only draws (the other ranks go on training); the CAMs are the model's
    predict path (``test_step``) in eval mode, the train mode restored afterwards.

    Args:
        interval: draw after every ``interval`` iterations (<= 0: never in between).
        dataloader: dataloader config or name whose dataset gives the images
            (default ``'pseudo_label'``: training images with their masks).
        indices: dataset indices of the images drawn (one row each).
        branches: CAM heads of a :class:`SingleStageWSSS` (one image each,
            ``<name>_<branch>``); None: the model's own CAMs.
        cam_cfg: CAM inference settings used instead of the model's (e.g.
            ``dict(scales=[1.0], flip=False)``); None: the model's (the picture of
            ``visualize_cams.py``).
        tile_width: width of each tile in pixels.
        draw_at_start: also draw before the first iteration (step = start iter).
        draw_at_end: also draw after the last iteration.
        name: image name in the backends.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 interval: int = 500,
                 dataloader: Union[str, dict] = 'pseudo_label',
                 indices: Sequence[int] = (0, 1, 2, 3),
                 branches: Optional[Sequence[str]] = None,
                 cam_cfg: Optional[dict] = None,
                 tile_width: int = 256,
                 draw_at_start: bool = True,
                 draw_at_end: bool = True,
                 name: str = 'cams') -> None:
        self.interval = int(interval)
        self.dataloader_cfg = dataloader
        self.indices = [int(i) for i in indices]
        if not self.indices:
            raise ValueError('CAMVisualizationHook: indices is empty')
        self.branches = None if branches is None else list(branches)
        self.cam_cfg = dict(cam_cfg or {})
        self.tile_width = int(tile_width)
        self.draw_at_start = draw_at_start
        self.draw_at_end = draw_at_end
        self.name = name
        self.dataset = None

    def before_train(self, runner) -> None:
        check_branches(runner.model, self.branches, type(self).__name__)
        if not is_main_process():
            return
        cfg = resolve_loader_cfg(runner.cfg, self.dataloader_cfg, type(self).__name__)
        self.dataset = DATASETS.build(cfg['dataset'])
        bad = [i for i in self.indices if not 0 <= i < len(self.dataset)]
        if bad:
            raise IndexError(f'CAMVisualizationHook: indices {bad} outside the '
                             f'{len(self.dataset)} images of the dataset')
        if self.draw_at_start:
            self.draw(runner, step=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        due = self.interval > 0 and self.every_n_train_iters(runner, self.interval)
        if due or (self.draw_at_end and self.is_last_train_iter(runner)):
            self.draw(runner, step=runner.iter + 1)

    def predict(self, runner, branch: Optional[str] = None) -> List:
        """The predicted samples (with ``cams``) of the fixed images."""
        samples = []
        with cam_prediction(runner.model, branch, self.cam_cfg, sync=False) as model, \
                torch.no_grad():
            for i in self.indices:
                item = self.dataset[i]
                data = dict(inputs=[item['inputs']], data_samples=[item['data_samples']])
                # the unwrapped model: only rank 0 runs this, outside any collective
                samples.append(model.test_step(data)[0])
        return samples

    def draw(self, runner, step: int) -> None:
        if not is_main_process():
            return
        names = self.dataset.metainfo['classes']
        for branch in self.branches or [None]:
            canvas = draw_cam_samples(self.predict(runner, branch), names, self.tile_width)
            name = self.name if branch is None else f'{self.name}_{branch}'
            # the backends take RGB
            runner.visualizer.add_image(name, np.ascontiguousarray(canvas[..., ::-1]), step=step)
