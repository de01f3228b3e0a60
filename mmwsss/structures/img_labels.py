"""The one image-label reader: (B, C) multi-hot labels from data samples.

``PackWSSSInputs`` writes both ``gt_img_label`` (multi-hot) and the metainfo
``img_labels`` (indices). Everything that needs the labels as a batch tensor
(the WSSS data preprocessor, CAM heads, training-free models) reads them here,
with one precedence: ``gt_img_label`` first, the metainfo indices otherwise.
"""
from typing import Sequence, Union

import torch
from torch import Tensor


def stack_img_labels(data_samples: Sequence,
                     num_classes: int,
                     device: Union[str, torch.device] = 'cpu') -> Tensor:
    """(B, C) float multi-hot image labels of a batch of data samples.

    Raises:
        KeyError: a sample has neither ``gt_img_label`` nor metainfo ``img_labels``.
        ValueError: a label of the wrong length or an index out of 0..C-1
            (the message names the image).
    """
    rows = []
    for i, sample in enumerate(data_samples):
        where = sample.metainfo.get('img_path', f'sample {i}')
        if 'gt_img_label' in sample:
            row = sample.gt_img_label.float()
        elif 'img_labels' in sample.metainfo:
            row = torch.zeros(num_classes)
            idx = torch.as_tensor(sample.metainfo['img_labels'], dtype=torch.long)
            if idx.numel() and (idx.min() < 0 or idx.max() >= num_classes):
                raise ValueError(f'image label index out of range 0..{num_classes - 1} '
                                 f'in {where}')
            row[idx] = 1
        else:
            raise KeyError(f'data sample has neither gt_img_label nor metainfo img_labels: '
                           f'{where}')
        if row.numel() != num_classes:
            raise ValueError(f'image label of length {row.numel()} but the model has '
                             f'{num_classes} classes ({where})')
        rows.append(row.to(device))
    return torch.stack(rows, 0)
