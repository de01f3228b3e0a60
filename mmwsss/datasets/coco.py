"""COCO in the VOC-style layout written by tools/dataset_converters/coco.py."""
import os.path as osp
from typing import Optional

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .class_names import get_label_space
from .converters.coco import LABEL_FILE, META_FILE
from .label_io import load_json_strict


@DATASETS.register_module()
class WSSSCOCODataset(WSSSBaseDataset):
    """COCO converted by ``tools/dataset_converters/coco.py``::

        data_root/
          JPEGImages/<stem>.jpg
          SegmentationClass/<stem>.png
          ImageSets/Segmentation/{train,val}.txt
          cls_labels.json    {stem: [foreground indices]}
          meta.json          label space and classes

    Args:
        label_space (str, optional): ``'voc'`` (20 classes + background) or
            ``'coco'`` (80 + background). Default: read from
            ``data_root/meta.json``; when given, it must agree with that file.
        label_file (str): defaults to the converter's ``cls_labels.json``; None
            derives the labels from the masks.
        **kwargs: see :class:`WSSSBaseDataset`.
    """
    METAINFO = dict()

    def __init__(self,
                 ann_file: str = '',
                 label_space: Optional[str] = None,
                 label_file: Optional[str] = LABEL_FILE,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 data_root: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        meta_path = osp.join(data_root or '', META_FILE)
        if osp.isfile(meta_path):
            meta = load_json_strict(meta_path, 'dataset meta file')
            if not isinstance(meta, dict):
                raise ValueError(f'{meta_path}: expected a JSON object with "label_space"')
            file_space = meta.get('label_space')
            if label_space is not None and label_space != file_space:
                raise ValueError(f'label_space={label_space!r} but {meta_path} says '
                                 f'{file_space!r}')
            label_space = file_space
        elif label_space is None:
            raise FileNotFoundError(f'{meta_path} not found: pass label_space=\'voc\' or '
                                    '\'coco\' or convert with tools/dataset_converters/coco.py')
        classes, palette = get_label_space(label_space)
        self.label_space = label_space
        metainfo = dict(metainfo or {})
        if 'classes' in metainfo:
            self.check_classes(metainfo['classes'], classes)
        metainfo.setdefault('classes', classes)
        metainfo.setdefault('palette', palette)
        super().__init__(
            ann_file=ann_file,
            label_file=label_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            data_root=data_root,
            metainfo=metainfo,
            **kwargs)
