"""A per-pixel confidence map of the pseudo label, for uncertainty-aware stage-2 training.

Not from a paper (issue 13, section 5): the refine chain's final scores say how sure
the label is at every pixel. :class:`LabelConfidence` turns them into a uint8 map
(0 = no confidence, 255 = full) that tools/generate_pseudo_labels.py writes next to
the label with ``pseudo_label_cfg.extra_maps = dict(confidence='confidence')``, and
that :class:`mmwsss.models.losses.ConfidenceWeightedLoss` reads in stage 2.

Two measures, over the *candidate* classes of an image only (background + the image's
labelled classes; an absent class is no candidate, as in :func:`score_margin`):

* ``'margin'``: top-1 minus top-2 score (:func:`score_margin`, BECO's measure),
  clipped to [0, 1] (scores are CAM-like, in [0, 1]);
* ``'entropy'``: ``1 - H(p) / log K`` with ``p`` the scores normalised over the ``K``
  candidate classes of the image and ``H(p) = -sum_k p_k log p_k`` (``0 log 0 = 0``):
  1 for a one-hot ``p``, 0 for a uniform one.

Pixels whose label is ignore (255) or outside the valid mask get 0. The map is
``floor(255 * c + 0.5)``: rounded half up, never truncated (a margin of 0.125 is 32,
not 31).
"""
from typing import Optional

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX, scores_to_label
from .base import BaseRefiner, RefineState
from .confidence_mask import score_margin

__all__ = [
    'candidate_classes', 'margin_confidence', 'entropy_confidence', 'confidence_to_uint8',
    'LabelConfidence'
]


def candidate_classes(img_labels: Optional[Tensor], num_channels: int, batch: int,
                      device: torch.device) -> Tensor:
    """(B, 1 + C) bool: the background and the image's labelled classes.

    Args:
        img_labels: (B, C) multi-hot labels, or None (every channel is a candidate).
        num_channels: 1 + C, the channels of the score tensor.
        batch: B (used when ``img_labels`` is None).
        device: where the mask lives.
    """
    if img_labels is None:
        return torch.ones(batch, num_channels, dtype=torch.bool, device=device)
    if img_labels.shape[1] + 1 != num_channels:
        raise ValueError(f'img_labels has {img_labels.shape[1]} classes, the scores '
                         f'{num_channels} channels (expected 1 + C)')
    return torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1).to(device) > 0


def margin_confidence(scores: Tensor,
                      img_labels: Optional[Tensor] = None,
                      zero_ties: bool = False) -> Tensor:
    """Top-1 minus top-2 score over the candidate classes, clipped to [0, 1].

    Args:
        scores: (B, 1 + C, H, W) background + foreground scores.
        img_labels: optional (B, C) multi-hot labels; absent classes are left out.
        zero_ties: :func:`score_margin`'s official tie rule of BECO's gen_mask.py.
    Returns:
        (B, H, W) float confidence in [0, 1].
    """
    return score_margin(scores, img_labels, zero_ties=zero_ties).clamp(0.0, 1.0)


def entropy_confidence(scores: Tensor,
                       img_labels: Optional[Tensor] = None,
                       normalize: str = 'sum') -> Tensor:
    """``1 - H(p) / log K`` over the K candidate classes of each image.

    Args:
        scores: (B, 1 + C, H, W) background + foreground scores.
        img_labels: optional (B, C) multi-hot labels; absent classes are left out and
            K = 1 + (number of labelled classes) per image.
        normalize: how scores become a distribution over the candidates:
            ``'sum'``: ``p_k = max(s_k, 0) / sum_j max(s_j, 0)`` (CAM scores with a
            background pad, CRF marginals, random-walk scores: none is a softmax; a
            pixel whose candidate scores are all 0 is uniform, confidence 0);
            ``'softmax'``: softmax over the candidates (for logits).
    Returns:
        (B, H, W) float confidence in [0, 1] (1 where K = 1: nothing to choose).
    """
    if scores.dim() != 4:
        raise ValueError(f'scores must be (B, 1 + C, H, W), got {tuple(scores.shape)}')
    scores = scores.float()
    keep = candidate_classes(img_labels, scores.shape[1], scores.shape[0], scores.device)[..., None,
                                                                                          None]
    if normalize == 'sum':
        s = scores.clamp_min(0.0) * keep
        total = s.sum(1, keepdim=True)
        uniform = keep.float() / keep.sum(1, keepdim=True)
        p = torch.where(total > 0, s / total.clamp_min(1e-12), uniform.expand_as(s))
    elif normalize == 'softmax':
        p = scores.masked_fill(~keep, float('-inf')).softmax(1)
    else:
        raise ValueError(f"normalize must be 'sum' or 'softmax', got {normalize!r}")
    entropy = -torch.xlogy(p, p).sum(1)  # xlogy(0, 0) = 0: absent classes add nothing
    k = keep.sum(1).float()  # (B, 1, 1)
    log_k = torch.log(k.clamp_min(2.0))
    conf = torch.where(k > 1, 1.0 - entropy / log_k, torch.ones_like(entropy))
    return conf.clamp(0.0, 1.0)


def confidence_to_uint8(conf: Tensor) -> Tensor:
    """[0, 1] float confidence -> uint8 0-255, rounded half up: ``floor(255 c + 0.5)``."""
    return torch.floor(conf.float().clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)


@MODELS.register_module()
class LabelConfidence(BaseRefiner):
    """Write a uint8 confidence map ``state[key]`` (B, H, W) of the final label.

    Reads the refine state's final ``scores`` (B, 1 + C, H, W) (DenseCRF marginals,
    random-walk scores, ...). A chain without scores (CAM seeds straight from the CAM
    model) uses the CAMs with the background padded at ``bg_thr``: the scores behind
    ``cam_to_label(cams, bg_thr)``, so give the chain's ``bg_thr``. The label is
    ``state['label']`` when a previous refiner set it, else the argmax of the scores
    over the candidates; it is written back to ``state['label']`` so the PNG and the
    map describe the same label. Pixels labelled 255 (or outside ``valid_mask``)
    get confidence 0. Put it last in the chain.

    Args:
        mode: ``'margin'`` (top-1 - top-2) or ``'entropy'`` (1 - H / log K).
        bg_thr: background pad when the state has no scores (None: refuse).
        normalize: ``'sum'`` or ``'softmax'``, how ``'entropy'`` makes a
            distribution (see :func:`entropy_confidence`); unused by ``'margin'``.
        zero_ties: BECO's tie rule for ``'margin'`` (see :func:`score_margin`).
        key: the state key written (``extra_maps`` maps it to a folder).
    """

    MODES = ('margin', 'entropy')

    def __init__(self,
                 mode: str = 'margin',
                 bg_thr: Optional[float] = None,
                 normalize: str = 'sum',
                 zero_ties: bool = False,
                 key: str = 'confidence',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if normalize not in ('sum', 'softmax'):
            raise ValueError(f"normalize must be 'sum' or 'softmax', got {normalize!r}")
        self.mode = mode
        self.bg_thr = bg_thr
        self.normalize = normalize
        self.zero_ties = zero_ties
        self.key = key

    def refine(self, state: RefineState) -> RefineState:
        labels = state.get('img_labels')
        scores = state.get('scores')
        if scores is None:
            if self.bg_thr is None:
                raise KeyError("LabelConfidence needs 'scores' in the refine state (e.g. "
                               'DenseCRF, IRNRandomWalk) or bg_thr to pad the CAMs')
            cams = state['cams'].float()
            bg = torch.full_like(cams[:, :1], float(self.bg_thr))
            scores = torch.cat([bg, cams], 1)  # absent classes: excluded below
        label = state.get('label')
        if label is None:
            label = scores_to_label(scores, labels)
        if state.get('valid_mask') is not None:
            label = label.masked_fill(~state['valid_mask'].bool(), IGNORE_INDEX)
        if self.mode == 'margin':
            conf = margin_confidence(scores, labels, zero_ties=self.zero_ties)
        else:
            conf = entropy_confidence(scores, labels, normalize=self.normalize)
        conf = conf.masked_fill(label == IGNORE_INDEX, 0.0)
        state['label'] = label
        state[self.key] = confidence_to_uint8(conf)
        return state
