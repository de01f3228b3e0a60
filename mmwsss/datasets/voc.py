"""PASCAL VOC 2012 (and SBD-augmented train_aug) with image-level labels."""
from typing import Optional

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .class_names import VOC_CLASSES, VOC_PALETTE


@DATASETS.register_module()
class WSSSVOCDataset(WSSSBaseDataset):
    """VOC2012 layout::

        data_root/
          JPEGImages/<id>.jpg
          SegmentationClass/<id>.png  (or SegmentationClassAug/ for train_aug)
          ImageSets/Segmentation/{train,train_aug,val}.txt
          cls_labels.npy              (optional, psa/irn format)

    Image labels come from ``label_file`` (psa/irn ``cls_labels.npy`` or a JSON
    ``{id: [class names or foreground indices]}``) or, without one, from the
    masks. 21 classes, ``'background'`` first.

    Example::

        dict(type='WSSSVOCDataset', data_root='data/VOCdevkit/VOC2012',
             ann_file='ImageSets/Segmentation/train_aug.txt',
             label_file='cls_labels.npy',
             data_prefix=dict(img_path='JPEGImages', seg_map_path=None))
    """
    METAINFO = dict(classes=VOC_CLASSES, palette=VOC_PALETTE)

    def __init__(self,
                 ann_file: str = '',
                 label_file: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if metainfo and 'classes' in metainfo:
            self.check_classes(metainfo['classes'], VOC_CLASSES)
        super().__init__(
            ann_file=ann_file,
            label_file=label_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            metainfo=metainfo,
            **kwargs)
