"""Confidence-guided ignore of CLIP-ES's pseudo masks (``eval_cam_with_crf.py``):
after the dense CRF, label = argmax of the marginals and pixels whose top marginal is
below 0.95 become 255, so the segmentation loss skips them (the paper's CGL)."""
from typing import Optional

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, scores_to_label
from .base import BaseRefiner, RefineState


@MODELS.register_module()
class ConfidenceIgnore(BaseRefiner):
    """Hard label from ``scores`` with low-confidence pixels set to 255.

    Reads ``scores`` (B, 1 + C, H, W) (e.g. DenseCRF marginals) and ``img_labels``;
    writes ``label`` = argmax over bg + present classes, 255 where the winning score
    is ``< thr``.

    Args:
        thr: confidence threshold (CLIP-ES: 0.95).
    """

    def __init__(self, thr: float = 0.95, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.thr = thr

    def refine(self, state: RefineState) -> RefineState:
        scores = state.get('scores')
        if scores is None:
            raise KeyError("ConfidenceIgnore needs 'scores' (e.g. from DenseCRF) in the "
                           'refine state')
        labels = state.get('img_labels')
        label = scores_to_label(scores, labels)
        conf = scores.gather(1, label[:, None])[:, 0]
        label[conf < self.thr] = IGNORE_INDEX
        if state.get('valid_mask') is not None:
            label[~state['valid_mask'].bool()] = IGNORE_INDEX
        state['label'] = label
        return state
