"""Initialise a CAM classifier from a pretrained ImageNet classifier.

With a few hundred training images, a randomly initialised CAM classifier learns
whatever tells its rare classes apart, usually the context (the sheep CAM fires on
the trees around the flock). The ImageNet classifier of the same backbone already
knows what a sheep looks like: row ``c`` of the CAM head is set to the mean of the
ImageNet rows that name class ``c`` (:mod:`imagenet_class_map`), and training then
starts from there. This is transfer learning, not part of any surveyed WSSS
recipe: configs that use it say so.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from torch import Tensor, nn

from mmwsss.registry import WEIGHT_INITIALIZERS
from .imagenet_class_map import IMAGENET_CLASS_MAPS

ClassMap = Union[str, Dict[str, Sequence[int]]]


def resolve_class_map(class_map: ClassMap) -> Dict[str, List[int]]:
    """A named map ('voc') or a dict class name -> source class indices."""
    if isinstance(class_map, str):
        if class_map not in IMAGENET_CLASS_MAPS:
            raise KeyError(f"unknown class_map '{class_map}'; named maps: "
                           f'{sorted(IMAGENET_CLASS_MAPS)}, or give a dict '
                           'class name -> ImageNet indices')
        return IMAGENET_CLASS_MAPS[class_map]
    return {k: list(v) for k, v in dict(class_map).items()}


def transfer_classifier_rows(src_weight: Tensor, classes: Sequence[str],
                             class_map: ClassMap) -> Tuple[Tensor, List[bool]]:
    """Rows of a new classifier built from a source classifier.

    Args:
        src_weight: (N_src, C_in) or (N_src, C_in, 1, 1) source classifier weight.
        classes: the K class names of the new classifier, in its row order.
        class_map: class name -> source row indices (or a named map).
    Returns:
        (K, C_in) rows (mean of the mapped source rows; zeros where unmapped) and
        a K-list telling which classes were mapped.
    """
    mapping = resolve_class_map(class_map)
    unknown = sorted(set(mapping) - set(classes))
    if unknown:
        raise KeyError(f'class_map names classes the head does not have: {unknown}; '
                       f'head classes: {list(classes)}')
    w = src_weight.reshape(src_weight.shape[0], -1)
    rows = w.new_zeros(len(classes), w.shape[1])
    mapped = []
    for k, name in enumerate(classes):
        idx = mapping.get(name, [])
        bad = [i for i in idx if not 0 <= i < w.shape[0]]
        if bad:
            raise IndexError(f"class_map['{name}'] has indices {bad} outside the "
                             f'source classifier (0..{w.shape[0] - 1})')
        if idx:
            rows[k] = w[torch.as_tensor(idx)].mean(0)
        mapped.append(bool(idx))
    return rows, mapped


@WEIGHT_INITIALIZERS.register_module(name='ClassifierTransfer')
class ClassifierTransferInit:
    """``init_cfg`` that copies mapped ImageNet classifier rows into a CAM head.

    Put it after the head's default initialiser so unmapped classes keep theirs::

        init_cfg=[dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
                  dict(type='ClassifierTransfer', checkpoint=pretrained,
                       class_map='voc')]

    Args:
        checkpoint: a file holding the source classifier under ``key`` as
            ``{'weight': (N_src, C_in)}`` (``tools/model_converters/
            efficientnet_lite.py --keep-head`` writes one).
        class_map: 'voc' or a dict class name -> source class indices.
        classes: the head's class names in row order (default: the names of the
            named map's label space, e.g. the 20 VOC classes).
        key: where the source classifier sits in the checkpoint.
        layer_name: the head's classifier attribute (a 1x1 conv or linear).
    """

    def __init__(self,
                 checkpoint: str,
                 class_map: ClassMap = 'voc',
                 classes: Optional[Sequence[str]] = None,
                 key: str = 'imagenet_head',
                 layer_name: str = 'conv_seg') -> None:
        self.checkpoint = checkpoint
        self.class_map = class_map
        self.classes = classes
        self.key = key
        self.layer_name = layer_name

    def _classes(self) -> List[str]:
        if self.classes is not None:
            return list(self.classes)
        if isinstance(self.class_map, str):
            from mmwsss.datasets.class_names import LABEL_SPACES
            return list(LABEL_SPACES[self.class_map][1:])  # drop background
        raise ValueError('ClassifierTransfer needs `classes` with a dict class_map')

    def __call__(self, module: nn.Module) -> None:
        from mmwsss.utils.checkpoint_compat import safe_torch_load
        layer = getattr(module, self.layer_name, None)
        if layer is None or not hasattr(layer, 'weight'):
            raise AttributeError(f'{type(module).__name__} has no classifier layer '
                                 f"'{self.layer_name}' to initialise")
        ckpt = safe_torch_load(self.checkpoint, map_location='cpu')
        if self.key not in ckpt or 'weight' not in ckpt[self.key]:
            raise KeyError(f"{self.checkpoint} has no '{self.key}.weight' classifier; "
                           'convert the backbone with --keep-head '
                           '(tools/model_converters/efficientnet_lite.py)')
        src = ckpt[self.key]['weight']
        classes = self._classes()
        out = layer.weight
        if out.shape[0] != len(classes) or out[0].numel() != src[0].numel():
            raise ValueError(
                f'{self.layer_name} weight {tuple(out.shape)} does not fit {len(classes)} '
                f'classes x {src[0].numel()} input channels of the classifier in '
                f'{self.checkpoint}')
        rows, mapped = transfer_classifier_rows(src, classes, self.class_map)
        with torch.no_grad():
            keep = torch.as_tensor(mapped)
            out[keep] = rows[keep].reshape(out[keep].shape).to(out.dtype)
        if hasattr(module, '_params_init_info'):  # mmengine's init log
            update_init_info(module, init_info=self._get_init_info())
        missing = [c for c, m in zip(classes, mapped) if not m]
        print_log(
            f'ClassifierTransfer: {sum(mapped)}/{len(classes)} classes from '
            f'{self.checkpoint}' + (f'; kept the default init of {missing}' if missing else ''),
            logger='current')

    def _get_init_info(self) -> str:
        return (f'{self.__class__.__name__}: checkpoint={self.checkpoint}, '
                f'class_map={self.class_map if isinstance(self.class_map, str) else "dict"}')
