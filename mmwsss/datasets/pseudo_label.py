"""Stage 2: a plain segmentation dataset whose seg maps are generated pseudo labels."""
import os.path as osp
from typing import Optional

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .class_names import get_label_space


@DATASETS.register_module()
class PseudoLabelDataset(WSSSBaseDataset):
    """Images plus a folder of pseudo-label PNGs (``<id><seg_map_suffix>``).

    Every image of the split must have a pseudo label: the dataset refuses to
    build and lists the missing files otherwise (nothing is skipped). No image
    labels are attached unless ``label_file`` is given. Pseudo labels are
    range-checked when loaded by ``LoadWSSSAnnotations`` (or all at once with
    ``check_masks=True``).

    Example (VOC train_aug with pseudo labels written by the CAM stage)::

        dict(type='PseudoLabelDataset', label_space='voc',
             data_root='data/VOCdevkit/VOC2012',
             ann_file='ImageSets/Segmentation/train_aug.txt',
             data_prefix=dict(img_path='JPEGImages',
                              seg_map_path='work_dirs/irn/pseudo_labels'))

    Args:
        label_space (str, optional): ``'voc'`` or ``'coco'`` sets the classes;
            otherwise ``metainfo=dict(classes=(...))`` (background first) is
            required.
        pseudo_label_dir (str, optional): folder written by
            tools/generate_pseudo_labels.py; relative paths are resolved against
            the working directory and override ``data_prefix['seg_map_path']``.
        label_file (str, optional): attach image labels too (same formats as
            :class:`WSSSVOCDataset`).
        **kwargs: see :class:`WSSSBaseDataset` (``ann_file``, ``data_root``,
            ``data_prefix`` with both ``img_path`` and ``seg_map_path``).
    """
    METAINFO = dict()
    MASK_KIND = 'pseudo label'

    def __init__(self,
                 ann_file: str = '',
                 label_space: Optional[str] = None,
                 label_file: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 pseudo_label_dir: Optional[str] = None,
                 **kwargs) -> None:
        if pseudo_label_dir is not None:
            # resolved against the working directory (like work_dir), not data_root:
            # pseudo labels live in the run's output, not in the dataset folder
            prefix = dict(kwargs.get('data_prefix') or {})
            prefix['seg_map_path'] = osp.abspath(pseudo_label_dir)
            kwargs['data_prefix'] = prefix
        metainfo = dict(metainfo or {})
        if label_space is not None:
            classes, palette = get_label_space(label_space)
            if 'classes' in metainfo:
                self.check_classes(metainfo['classes'], classes)
            metainfo.setdefault('classes', classes)
            metainfo.setdefault('palette', palette)
        elif metainfo.get('classes') is None:
            raise ValueError("PseudoLabelDataset needs label_space ('voc'/'coco') or "
                             'metainfo=dict(classes=(...))')
        elif list(metainfo['classes'])[:1] != ['background']:
            raise ValueError(f"classes must start with 'background', got {metainfo['classes']}")
        super().__init__(
            ann_file=ann_file,
            label_file=label_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            metainfo=metainfo,
            require_masks=True,
            with_img_labels=label_file is not None,
            **kwargs)
