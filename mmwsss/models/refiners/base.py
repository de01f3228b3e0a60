"""The refiner interface: every refiner reads and writes one ``RefineState``.

A refine chain (``cfg.pseudo_label_cfg.refiners`` in tools/generate_pseudo_labels.py,
or a single-stage segmentor's label source) is a list of refiner configs applied in
order. Each refiner reads the fields it needs and sets the ones it produces:

    img         (B, 3, H, W) uint8 RGB image at the CAM resolution (never BGR)
    cams        (B, C, H, W) float fg CAMs in [0, 1], channel k = class k + 1
    img_labels  (B, C) multi-hot image labels
    scores      optional (B, 1 + C, H, W) bg + fg scores/probabilities
    label       optional (B, H, W) long, 0 bg, 255 ignore
    valid_mask  optional (B, H, W) bool (False = padding, becomes 255)
    meta        list of per-image dicts (img_path, ori_shape, ...), for caches

``final_label`` turns a state into hard labels: ``label`` if set, else argmax of
``scores`` (absent classes masked), else ``cam_to_label(cams, bg_thr)``.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, cam_to_label, check_cams, scores_to_label

RefineState = Dict[str, Union[Tensor, List[dict], None]]


def check_state(state: RefineState) -> None:
    """Validate a refine state: sizes agree, no NaN, labels within range."""
    cams = state.get('cams')
    img = state.get('img')
    if cams is None:
        raise KeyError("refine state has no 'cams'")
    check_cams(cams, state.get('img_labels'))
    if img is not None:
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f"'img' must be (B, 3, H, W), got {tuple(img.shape)}")
        if img.shape[0] != cams.shape[0] or img.shape[-2:] != cams.shape[-2:]:
            raise ValueError(f'image size {tuple(img.shape[-2:])} (batch {img.shape[0]}) does not '
                             f'match CAM size {tuple(cams.shape[-2:])} (batch {cams.shape[0]})')
    labels = state.get('img_labels')
    if labels is not None:
        empty = (labels.sum(1) == 0).nonzero().flatten().tolist()
        if empty:
            names = [
                m.get('img_path', i)
                for i, m in zip(empty, [state.get('meta', [{}] * len(labels))[i] for i in empty])
            ]
            raise ValueError(f'image(s) {names} have no labelled foreground class')
    label = state.get('label')
    if label is not None:
        bad = (label != IGNORE_INDEX) & ((label < 0) | (label > cams.shape[1]))
        if bad.any():
            raise ValueError(f'label holds class index {int(label[bad][0])} outside '
                             f'the score tensor (0..{cams.shape[1]}, 255)')


class BaseRefiner(BaseModule):
    """Base class: subclasses implement ``refine(state) -> state``."""

    def forward(self, state: RefineState) -> RefineState:
        check_state(state)
        return self.refine(dict(state))

    def refine(self, state: RefineState) -> RefineState:  # pragma: no cover
        raise NotImplementedError


@MODELS.register_module()
class RefineChain(BaseModule):
    """Apply refiners in order, e.g. CAM -> CRF -> random walk.

    Args:
        refiners: list of refiner configs (or modules).
        bg_thr: threshold used by :func:`final_label` when the chain leaves
            neither ``label`` nor ``scores``.
    """

    def __init__(self,
                 refiners: Sequence[Union[dict, BaseRefiner]] = (),
                 bg_thr: float = 0.15,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.refiners = torch.nn.ModuleList(
            [MODELS.build(r) if isinstance(r, dict) else r for r in refiners])
        self.bg_thr = bg_thr

    def forward(self, state: RefineState) -> RefineState:
        check_state(state)
        for refiner in self.refiners:
            state = refiner(state)
        return state

    def final_label(self, state: RefineState) -> Tensor:
        return final_label(state, self.bg_thr)


def final_label(state: RefineState, bg_thr: float = 0.15) -> Tensor:
    """(B, H, W) long hard labels from a refine state (see module docstring)."""
    if state.get('label') is not None:
        label = state['label'].clone()
    elif state.get('scores') is not None:
        label = scores_to_label(state['scores'], state.get('img_labels'))
    else:
        label = cam_to_label(state['cams'], state.get('img_labels'), bg_thr=bg_thr)
    if state.get('valid_mask') is not None:
        label[~state['valid_mask'].bool()] = IGNORE_INDEX
    return label
