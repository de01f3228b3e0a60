from .base import WSSSBaseDataset
from .class_names import COCO_CLASSES, COCO_TO_VOC, VOC_CLASSES, VOC_PALETTE, get_label_space
from .coco import WSSSCOCODataset
from .custom import WSSSCustomDataset
from .histo import BCSSWSSSDataset, LUADHistoSegDataset, WSSSHistoDataset
from .pseudo_label import PseudoLabelDataset
from .transforms import *  # noqa: F401,F403
from .voc import WSSSVOCDataset

__all__ = [
    'WSSSBaseDataset', 'WSSSVOCDataset', 'WSSSCOCODataset', 'WSSSCustomDataset',
    'PseudoLabelDataset', 'VOC_CLASSES', 'VOC_PALETTE', 'COCO_CLASSES', 'COCO_TO_VOC',
    'get_label_space'
]
__all__ += ['WSSSHistoDataset', 'BCSSWSSSDataset', 'LUADHistoSegDataset']
from .cityscapes import CITYSCAPES_CLASSES, WSSSCityscapesDataset  # noqa: E402

__all__ += ['WSSSCityscapesDataset', 'CITYSCAPES_CLASSES']
