"""Stage-2 pixel loss weighted by the pseudo label's confidence (issue 13, section 5).

Per pixel i of a batch, with the wrapped pixel loss ``l_i`` (e.g. cross entropy),
the uint8 confidence ``c_i`` (0-255, :class:`mmwsss.models.refiners.LabelConfidence`)
and the set V of valid pixels (label != ignore):

* ``mode='weight'``:    ``w_i = (c_i / 255) ** power`` on V, 0 elsewhere;
* ``mode='threshold'``: ``w_i = 1`` where ``c_i / 255 >= thr`` on V, 0 elsewhere
  (the pixels below the threshold are ignored like label 255).

and the loss is ``sum_i w_i l_i / D`` with ``D`` from ``normalize``:

* ``'weight'`` (default): ``D = sum_i w_i``, a weighted mean; the loss scale does not
  depend on how confident the batch is on average (a batch at half confidence
  everywhere gives the plain mean), so the optimiser settings of the plain baseline
  carry over;
* ``'valid'``: ``D = |V'|``, the number of valid pixels (V minus the pixels below the
  threshold): low confidence also shrinks the loss;
* ``'all'``: ``D`` = all pixels of the batch, ignore included (mmseg's CrossEntropyLoss
  default, ``avg_non_ignore=False``).

In threshold mode ``'weight'`` and ``'valid'`` are the same (mean over the kept
pixels). With every confidence 255, ``'all'`` is exactly mmseg's CrossEntropyLoss and
``'valid'`` its ``avg_non_ignore=True``. A batch with ``D = 0`` gives a zero loss that
still has a graph.
"""
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmwsss.registry import MODELS

__all__ = ['confidence_weights', 'confidence_weighted_mean', 'ConfidenceWeightedLoss']


def confidence_weights(conf: Tensor,
                       label: Tensor,
                       mode: str = 'weight',
                       power: float = 1.0,
                       thr: float = 0.5,
                       ignore_index: int = 255) -> Tensor:
    """Per-pixel weights from a 0-255 confidence map.

    Args:
        conf: (B, H, W) confidence, 0-255 (any dtype).
        label: (B, H, W) long label; ``ignore_index`` pixels get weight 0.
        mode: ``'weight'``: ``(conf / 255) ** power``; ``'threshold'``:
            1 where ``conf / 255 >= thr``, else 0.
        power: exponent of the weight mode (1: linear).
        thr: threshold of the threshold mode, on the [0, 1] scale.
        ignore_index: the label's ignore value.
    Returns:
        (B, H, W) float weights in [0, 1].
    """
    if conf.shape != label.shape:
        raise ValueError(f'confidence {tuple(conf.shape)} and label {tuple(label.shape)} '
                         'must have the same shape')
    c = conf.float().clamp(0.0, 255.0) / 255.0
    if mode == 'weight':
        w = c.pow(power)
    elif mode == 'threshold':
        w = (c >= thr).float()
    else:
        raise ValueError(f"mode must be 'weight' or 'threshold', got {mode!r}")
    return w.masked_fill(label == ignore_index, 0.0)


def confidence_weighted_mean(pixel_loss: Tensor,
                             weights: Tensor,
                             valid: Tensor,
                             normalize: str = 'weight',
                             avg_factor: Optional[float] = None) -> Tensor:
    """``sum(w * l) / D`` (see the module docstring for ``D``).

    Args:
        pixel_loss: (B, H, W) per-pixel loss.
        weights: (B, H, W) weights, 0 on pixels that must not count.
        valid: (B, H, W) bool, the pixels counted by ``'valid'``.
        normalize: ``'weight'``, ``'valid'`` or ``'all'``.
        avg_factor: an explicit D (overrides ``normalize``).
    Returns:
        scalar loss.
    """
    # where, not a product: a weight-0 pixel contributes nothing even if its loss is inf
    total = torch.where(weights > 0, pixel_loss * weights, torch.zeros_like(pixel_loss)).sum()
    if avg_factor is not None:
        denom = torch.as_tensor(float(avg_factor), device=pixel_loss.device)
    elif normalize == 'weight':
        denom = weights.sum()
    elif normalize == 'valid':
        denom = valid.sum().float()
    elif normalize == 'all':
        denom = torch.tensor(float(pixel_loss.numel()), device=pixel_loss.device)
    else:
        raise ValueError(f"normalize must be 'weight', 'valid' or 'all', got {normalize!r}")
    # D = 0 only when every weight is 0, so total is 0 too: 0 / eps keeps the graph
    # (and needs no host sync, unlike a test of D)
    return total / denom.clamp_min(1e-12)


@MODELS.register_module()
class ConfidenceWeightedLoss(nn.Module):
    """Any mmseg pixel loss, weighted per pixel by the pseudo label's confidence.

    Use it as a decode head's ``loss_decode`` inside :class:`ConfidenceEncoderDecoder`
    (``mmwsss.ConfidenceEncoderDecoder``), which hands the batch's
    ``data_sample.gt_conf_mask`` to every such loss while the heads compute their
    losses (see that class for why). The call is mmseg's
    ``loss(cls_score, label, weight=None, ignore_index=255)``; ``confidence`` may
    also be given directly.

    Args:
        loss_cfg: the wrapped pixel loss; it is called with
            ``reduction_override='none'`` and must return one loss per pixel
            (B, H, W), as mmseg's softmax CrossEntropyLoss does (mmseg 1.2's
            FocalLoss, DiceLoss and LovaszLoss do not: refused with an error). Its
            ``loss_weight`` and ``class_weight`` apply per pixel; its
            ``avg_non_ignore`` has no effect (``normalize`` decides; the default
            sets it only to silence mmseg's warning about it).
        mode: ``'weight'`` or ``'threshold'`` (:func:`confidence_weights`).
        power: exponent of the weight mode.
        thr: threshold of the threshold mode, on the [0, 1] scale (conf / 255).
        normalize: ``'weight'`` (sum(w l) / sum(w)), ``'valid'`` or ``'all'``.
        loss_name: the log key; must start with ``loss_`` to be trained.
    """

    def __init__(self,
                 loss_cfg: dict = dict(
                     type='mmseg.CrossEntropyLoss', avg_non_ignore=True, loss_weight=1.0),
                 mode: str = 'weight',
                 power: float = 1.0,
                 thr: float = 0.5,
                 normalize: str = 'weight',
                 loss_name: str = 'loss_conf_ce') -> None:
        super().__init__()
        if mode not in ('weight', 'threshold'):
            raise ValueError(f"mode must be 'weight' or 'threshold', got {mode!r}")
        if normalize not in ('weight', 'valid', 'all'):
            raise ValueError(f"normalize must be 'weight', 'valid' or 'all', got {normalize!r}")
        if not 0.0 <= thr <= 1.0:
            raise ValueError(f'thr is on the [0, 1] scale (conf / 255), got {thr}')
        self.loss = MODELS.build(dict(loss_cfg))
        self.mode = mode
        self.power = float(power)
        self.thr = float(thr)
        self.normalize = normalize
        self._loss_name = loss_name
        self._confidence: Optional[Tensor] = None

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @contextmanager
    def use_confidence(self, conf: Tensor) -> Iterator[None]:
        """Make (B, H, W) ``conf`` the confidence of the calls inside the block."""
        self._confidence = conf
        try:
            yield
        finally:
            self._confidence = None

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                confidence: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                **kwargs) -> Tensor:
        """Loss of (B, K, H, W) logits against a (B, H, W) label.

        Args:
            cls_score: (B, K, H, W) logits.
            label: (B, H, W) long label.
            weight: optional (B, H, W) weights from the head (a pixel sampler);
                multiplied into the confidence weights.
            ignore_index: the label's ignore value.
            confidence: (B, H, W) 0-255 confidence; default: the one handed over by
                :meth:`use_confidence`. Resized to the label (nearest) if needed.
            avg_factor: an explicit denominator.
        """
        conf = confidence if confidence is not None else self._confidence
        if conf is None:
            raise RuntimeError(
                'ConfidenceWeightedLoss got no confidence: train with '
                "model.type='mmwsss.ConfidenceEncoderDecoder' and a pipeline that loads "
                "the maps (mmwsss.LoadConfidenceMask(binarize=False) + mmwsss.PackWSSSMaps)")
        conf = conf.to(label.device)
        if conf.dim() == 4:
            conf = conf.squeeze(1)
        if conf.shape != label.shape:
            if conf.shape[0] != label.shape[0]:
                raise ValueError(f'confidence batch {tuple(conf.shape)} does not match the '
                                 f'label {tuple(label.shape)}')
            conf = F.interpolate(conf[:, None].float(), size=label.shape[-2:], mode='nearest')[:, 0]
        w = confidence_weights(conf, label, self.mode, self.power, self.thr, ignore_index)
        if weight is not None:
            w = w * weight.float().view_as(w)
        valid = label != ignore_index
        if self.mode == 'threshold':
            valid = valid & (w > 0)
        pixel = self.loss(
            cls_score, label, reduction_override='none', ignore_index=ignore_index, **kwargs)
        if pixel.numel() == label.numel() and pixel.shape != label.shape:
            pixel = pixel.reshape(label.shape)
        if pixel.shape != label.shape:
            raise ValueError(f'{type(self.loss).__name__} returned {tuple(pixel.shape)} with '
                             f"reduction 'none', not one loss per pixel {tuple(label.shape)}")
        return confidence_weighted_mean(pixel, w, valid, self.normalize, avg_factor)
