"""Cityscapes with image-level labels derived from the fine masks (driving-scene WSSS).

Layout: mmseg's Cityscapes convention (``tools/dataset_converters/cityscapes.py`` of
mmsegmentation writes the ``*_gtFine_labelTrainIds.png`` files from the polygons)::

    data_root/
      leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
      gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png   (19 train ids, 255 ignore)

Unlike the VOC/COCO label spaces of mmwsss there is NO background class: the 19
Cityscapes train classes cover the scene, train id 0 (``road``) is a real class, and
the image label is a (19,) multi-hot vector indexed by train id (CARB's
``metadata/cityscapes/labels.npy`` rows). It is derived on the fly from the fine masks
when the dataset is built (every train id present, 255 ignored); a mask of the wrong
size or with a value outside 0..18 other than 255 is an error naming the file. The
masks of the training split are read for the labels only: a training pipeline without
``LoadWSSSAnnotations`` never hands them to the model.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .label_io import check_mask, image_size, read_mask

# mmseg's CityscapesDataset classes / palette, train-id order.
CITYSCAPES_CLASSES: Tuple[str, ...] = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                                       'traffic light', 'traffic sign', 'vegetation', 'terrain',
                                       'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                                       'motorcycle', 'bicycle')
CITYSCAPES_PALETTE: List[List[int]] = [[128, 64, 128], [244, 35, 232], [70, 70,
                                                                        70], [102, 102, 156],
                                       [190, 153, 153], [153, 153, 153], [250, 170, 30],
                                       [220, 220, 0], [107, 142, 35], [152, 251, 152],
                                       [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
                                       [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230],
                                       [119, 11, 32]]
CITYSCAPES_IMG_SUFFIX = '_leftImg8bit.png'
CITYSCAPES_SEG_SUFFIX = '_gtFine_labelTrainIds.png'


def cityscapes_image_label(seg: np.ndarray,
                           path: str = '<mask>',
                           num_classes: int = len(CITYSCAPES_CLASSES),
                           ignore_index: int = 255,
                           img_size: Optional[Sequence[int]] = None) -> np.ndarray:
    """(num_classes,) float32 multi-hot of the train ids present in a (H, W) mask.

    Every id in ``[0, num_classes)`` counts (id 0 is ``road``, not background);
    ``ignore_index`` is skipped. Raises ``ValueError`` naming ``path`` for another
    value or, with ``img_size`` (H, W), a size mismatch.
    """
    check_mask(seg, path, num_classes, ignore_index, tuple(img_size) if img_size else None)
    present = np.unique(seg)
    present = present[present != ignore_index].astype(np.int64)
    label = np.zeros(num_classes, dtype=np.float32)
    label[present] = 1
    return label


@DATASETS.register_module()
class WSSSCityscapesDataset(WSSSBaseDataset):
    """Cityscapes (19 train classes, no background) with image labels from the masks.

    ``gt_img_label`` is (19,) over ALL classes (``num_classes`` = 19, not 19 - 1 as
    for the background-first datasets): models built on it set their class count to
    19 and use no background channel.

    Args:
        data_prefix: ``img_path`` / ``seg_map_path``, e.g. ``leftImg8bit/train`` and
            ``gtFine/train`` (the masks are needed for the labels of every split).
        img_suffix / seg_map_suffix: mmseg's ``'_leftImg8bit.png'`` and
            ``'_gtFine_labelTrainIds.png'``.
        **kwargs: see :class:`WSSSBaseDataset` (``label_file`` is not supported: the
            labels are always derived from the masks).

    Example::

        dict(type='WSSSCityscapesDataset', data_root='data/cityscapes',
             data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = CITYSCAPES_IMG_SUFFIX,
                 seg_map_suffix: str = CITYSCAPES_SEG_SUFFIX,
                 data_prefix: dict = dict(
                     img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if metainfo and 'classes' in metainfo:
            self.check_classes(metainfo['classes'], CITYSCAPES_CLASSES)
        if kwargs.get('label_file'):
            raise ValueError('WSSSCityscapesDataset derives image labels from the gtFine '
                             'masks; label_file is not supported')
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            metainfo=metainfo,
            **kwargs)

    def load_labels(self) -> Optional[Dict[str, np.ndarray]]:
        """``{key: (19,) multi-hot}`` from every mask (None without a mask folder,
        which the base class reports)."""
        if self.mask_dir is None:
            return None
        out = {}
        for key, img, mask in self.list_samples():
            if not osp.isfile(mask):
                continue  # reported by load_data_list, naming every missing mask
            out[key] = cityscapes_image_label(
                read_mask(mask), mask, self.num_classes, self.ignore_index, image_size(img))
        return out
