"""The one image-label reader: multi-hot labels from data samples.

``PackWSSSInputs`` writes both ``gt_img_label`` (multi-hot) and the metainfo
``img_labels`` (indices). Everything that needs the labels (the WSSS data
preprocessor, CAM heads, CLIP-ES, the CAM metric, training-free models) reads
them here, with one precedence: ``gt_img_label`` first, the metainfo indices
otherwise. Samples may be data elements or the dicts mmengine's evaluator
hands to metrics (``to_dict``).
"""
from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor


def _get(sample: Any, key: str) -> Any:
    if isinstance(sample, dict):
        return sample.get(key, sample.get('metainfo', {}).get(key))
    if key in sample:
        return getattr(sample, key)
    return sample.metainfo.get(key)


def _where(sample: Any, i: int) -> str:
    path = _get(sample, 'img_path')
    return str(path) if path is not None else f'sample {i}'


def img_label_of(sample: Any,
                 num_classes: int,
                 index: int = 0,
                 required: bool = True) -> Optional[Tensor]:
    """(C,) float multi-hot image label of one sample.

    Args:
        sample: a data sample, or its ``to_dict()`` form.
        num_classes: the number of foreground classes C.
        index: the sample's position, for messages when it has no ``img_path``.
        required: raise when the sample has no labels (else return None).
    Raises:
        KeyError: no labels and ``required``.
        ValueError: a label of the wrong length or an index out of 0..C-1
            (the message names the image).
    """
    where = _where(sample, index)
    multi_hot = _get(sample, 'gt_img_label')
    if multi_hot is not None:
        row = torch.as_tensor(multi_hot).float().reshape(-1).cpu()
    else:
        idx = _get(sample, 'img_labels')
        if idx is None:
            if required:
                raise KeyError(f'data sample has neither gt_img_label nor metainfo '
                               f'img_labels: {where}')
            return None
        idx = torch.as_tensor(list(idx), dtype=torch.long).reshape(-1)
        if idx.numel() and (idx.min() < 0 or idx.max() >= num_classes):
            raise ValueError(f'img_labels {idx.tolist()} outside the classes '
                             f'0..{num_classes - 1} in {where}')
        row = torch.zeros(num_classes)
        row[idx] = 1
    if row.numel() != num_classes:
        raise ValueError(f'image label of length {row.numel()} but the model has '
                         f'{num_classes} classes ({where})')
    return row


def stack_img_labels(data_samples: Sequence,
                     num_classes: int,
                     device: Union[str, torch.device] = 'cpu') -> Tensor:
    """(B, C) float multi-hot image labels of a batch (see :func:`img_label_of`)."""
    rows = [img_label_of(s, num_classes, i) for i, s in enumerate(data_samples)]
    return torch.stack(rows, 0).to(device)
