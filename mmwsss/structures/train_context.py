"""The typed training context that single-stage WSSS models hand to their parts.

One :class:`TrainContext` is built per training step by :class:`SingleStageWSSS`
and passed to every label source and loss term, instead of an untyped dict that
carried the model itself. Names are the config's: CAM heads (``'main'``,
``'aux'``), branches (``'seg'``, or ``'b1'``/``'b2'`` for two students), pseudo
labels (``'seg'``, ``'aff'``) and views (``'global2'``, ``'local'``).
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from torch import Tensor


@dataclass
class WSSSBatch:
    """What the WSSS data preprocessor adds to a batch next to ``inputs``.

    Attributes:
        img: (B, 3, H, W) uint8 RGB picture of ``inputs`` (after on-device
            photometric augmentation of the main view, before normalisation).
        img_labels: (B, C) float multi-hot image labels, or None (no labels).
        valid_mask: (B, H, W) bool, False on batch padding (ToCo's img_box).
        views: extra normalised views by name, e.g. ``'global2'`` (B, 3, H, W).
        view_imgs: the same views as uint8 RGB (for cropping from them later).
        flipped: (B,) bool, whether the main view was flipped on the device.
        view_flips: (B,) bool by view name, whether the view's augmentation
            flipped the sample (to flip a view's output back, DuPL's strong view).
    """

    img: Optional[Tensor] = None
    img_labels: Optional[Tensor] = None
    valid_mask: Optional[Tensor] = None
    views: Dict[str, Tensor] = field(default_factory=dict)
    view_imgs: Dict[str, Tensor] = field(default_factory=dict)
    flipped: Optional[Tensor] = None
    view_flips: Dict[str, Tensor] = field(default_factory=dict)


@dataclass
class BranchOutput:
    """One branch's forward: backbone output, named CAMs / logits, seg logits.

    Attributes:
        feats: the backbone output (a tuple of maps; a ``BackboneOutput`` also
            carries class tokens, named patch tokens and attention maps).
        cams: raw CAMs (B, C, h, w) by CAM-head name.
        logits: image logits (B, C) by CAM-head name.
        seg_logits: (B, K, h, w) decode-head output, or None.
    """

    feats: Any
    cams: Dict[str, Tensor] = field(default_factory=dict)
    logits: Dict[str, Tensor] = field(default_factory=dict)
    seg_logits: Optional[Tensor] = None


@dataclass
class TrainContext:
    """Everything one training step knows, shared by label sources and loss terms.

    Attributes:
        inputs: (B, 3, H, W) normalised main view.
        img: (B, 3, H, W) uint8 RGB main view.
        img_labels: (B, C) multi-hot image labels.
        data_samples: the batch's data samples (read-only for the parts: pseudo
            labels go to ``pseudo``, never into a shared ``gt_sem_seg``).
        iter: the training iteration (0-based, mmengine's ``runner.iter``).
        branches: :class:`BranchOutput` by branch name.
        passes: :class:`BranchOutput` of the segmentor's ``view_passes`` by pass
            name (a branch run again on a view: SEAM's x0.3 view, ACR's flip,
            DuPL's strong view); their CAMs are NOT in ``cams``.
        cams / logits: every CAM head's raw CAMs and logits by head name
            (head names are unique across branches).
        pseudo: pseudo labels (B, h, w) long by label-source name.
        valid_mask: (B, H, W) bool, False on padding.
        views / view_imgs / view_flips: see :class:`WSSSBatch`.
        cam_fns: by CAM-head name, ``fn(images (N, 3, h, w)) -> raw CAMs``
            with the current weights (multi-scale CAMs of label sources).
        extras: anything a method's parts pass on to each other in one step
            (e.g. ToCo's roi map for the CTC crops).
    """

    inputs: Tensor
    img: Tensor
    img_labels: Tensor
    data_samples: List[Any]
    iter: int = 0
    branches: Dict[str, BranchOutput] = field(default_factory=dict)
    passes: Dict[str, BranchOutput] = field(default_factory=dict)
    cams: Dict[str, Tensor] = field(default_factory=dict)
    logits: Dict[str, Tensor] = field(default_factory=dict)
    pseudo: Dict[str, Tensor] = field(default_factory=dict)
    valid_mask: Optional[Tensor] = None
    views: Dict[str, Tensor] = field(default_factory=dict)
    view_imgs: Dict[str, Tensor] = field(default_factory=dict)
    view_flips: Dict[str, Tensor] = field(default_factory=dict)
    cam_fns: Dict[str, Callable[[Tensor], Tensor]] = field(default_factory=dict)
    extras: Dict[str, Any] = field(default_factory=dict)

    def require(self, kind: str, name: str) -> Any:
        """``getattr(self, kind)[name]`` with an error that lists what exists."""
        table = getattr(self, kind)
        if name not in table:
            raise KeyError(f"no {kind} named '{name}' in the training context; "
                           f'available: {sorted(table)}')
        return table[name]
